"""`kontaktcenter report`: the tillgänglighet report from the command line."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
from flask import Flask, current_app

from ..database import db
from .engine import ReportError, ReportQuery, check_period, parse_by, records, report
from .exports import FORMATS, export


def _date(ctx, param, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} är inget datum; skriv ÅÅÅÅ-MM-DD (t.ex. 2026-03-01)") from None


def register(app: Flask) -> None:
    @app.cli.command("report")
    @click.option("--from", "start", required=True, callback=_date, help="first local date, YYYY-MM-DD")
    @click.option("--to", "end", required=True, callback=_date, help="last local date (included)")
    @click.option("--by", default="", help="comma-separated: service, department, channel, location, language, period:day|week|month")
    @click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="file to write (default: standard output)")
    def report_command(start: date, end: date, by: str, fmt: str, output: Path | None) -> None:
        """The tillgänglighet report (columns and figures as in METRICS.md)."""
        from ..worktime.calendar import current_calendar

        try:
            dims, period = parse_by(by)
            check_period(start, end)
        except ReportError as exc:
            raise click.UsageError(exc.sv) from None
        if fmt == "xlsx" and output is None and sys.stdout.isatty():
            raise click.UsageError("XLSX skrivs till en fil: ange -o FIL.xlsx")
        query = ReportQuery(start, end, by=dims, period=period)
        table = report(db.session, query, current_calendar(), current_app.config.get("SHORT_ABANDON_SECONDS", 5))
        rows = records(table)
        meta = {"from": start.isoformat(), "to": end.isoformat(), "by": by}
        show_progress = output is not None
        if show_progress:
            with click.progressbar(length=len(rows), label=f"writing {len(rows)} rows", file=sys.stderr) as bar:
                data = export(fmt, list(table.columns), rows, meta, progress=bar.update)
            output.write_bytes(data)
            click.echo(f"{len(rows)} rows → {output}", err=True)
        else:
            click.echo(export(fmt, list(table.columns), rows, meta), nl=False)
