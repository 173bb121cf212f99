"""`kontaktcenter report`: the tillgänglighet report from the command line."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
from flask import Flask, current_app

from ..database import db
from .engine import REPORT_QUERIES, ReportError, ReportQuery, check_period, parse_by, query_progress, records
from .export_jobs import QUERY_SHARE
from .exports import FORMATS, export
from .report import report


def _date(ctx, param, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} är inget datum; skriv ÅÅÅÅ-MM-DD (t.ex. 2026-03-01)") from None


def register(app: Flask) -> None:
    @app.cli.command("report")
    @click.option("--from", "start", required=True, callback=_date, help="first local date, YYYY-MM-DD")
    @click.option("--to", "end", required=True, callback=_date, help="last local date (included)")
    @click.option(
        "--by",
        default="",
        help="comma-separated: service, department, channel, location, language, period:day|week|month",
    )
    @click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="file to write (default: standard output)",
    )
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
        calendar, short = current_calendar(), current_app.config.get("SHORT_ABANDON_SECONDS", 5)
        meta = {"from": start.isoformat(), "to": end.isoformat(), "by": by}
        if output is None:
            table = report(db.session, query, calendar, short)
            click.echo(export(fmt, list(table.columns), records(table), meta), nl=False)
            return
        # To a file: a progress bar on standard error, the report's queries first, then the rows.
        with click.progressbar(length=100, label="report", file=sys.stderr, show_percent=True) as bar:
            done = 0

            def advance(to: int) -> None:
                nonlocal done
                if to > done:
                    bar.update(to - done)
                    done = to

            queries = 0

            def query_done() -> None:
                nonlocal queries
                queries += 1
                advance(QUERY_SHARE * min(queries, REPORT_QUERIES) // REPORT_QUERIES)

            with query_progress(query_done):
                table = report(db.session, query, calendar, short)
            advance(QUERY_SHARE)
            rows = records(table)
            written = 0

            def row_done(n: int) -> None:
                nonlocal written
                written += n
                advance(QUERY_SHARE + (100 - QUERY_SHARE) * written // max(len(rows), 1))

            data = export(fmt, list(table.columns), rows, meta, progress=row_done)
            advance(100)
        output.write_bytes(data)
        click.echo(f"{len(rows)} rows → {output}", err=True)
