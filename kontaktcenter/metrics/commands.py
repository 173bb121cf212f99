"""`kontaktcenter report`: the tillgänglighet report from the command line."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click
from flask import Flask, current_app

from ..database import db
from ..worktime.calendar import STOCKHOLM
from .engine import REPORT_QUERIES, ReportError, ReportQuery, check_period, parse_by, query_progress, records
from .export_jobs import QUERY_SHARE
from .exports import FORMATS, export, iso_as_of, names_for
from .report import report


def _date(ctx, param, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} är inget datum; skriv ÅÅÅÅ-MM-DD (t.ex. 2026-03-01)") from None


def _as_of(ctx, param, value: str | None) -> datetime:
    """ISO 8601; without an offset, Stockholm local time; default now (whole seconds, so it reproduces)."""
    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} är ingen tidpunkt; skriv ISO 8601, t.ex. 2026-03-31T17:00 (lokal tid) "
            "eller 2026-03-31T17:00+02:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=STOCKHOLM)
    return moment.astimezone(UTC)


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
        "--as-of",
        "as_of",
        callback=_as_of,
        metavar="ISO",
        help="figures that depend on now (written_due …) as at this time, ISO 8601 (default: now)",
    )
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="file to write (default: standard output)",
    )
    def report_command(start: date, end: date, by: str, fmt: str, as_of: datetime, output: Path | None) -> None:
        """The tillgänglighet report (columns and figures as in METRICS.md)."""
        from ..worktime.calendar import current_calendar

        try:
            dims, period = parse_by(by)
            check_period(start, end)
        except ReportError as exc:
            raise click.UsageError(exc.sv) from None
        if fmt == "xlsx" and output is None and sys.stdout.isatty():
            raise click.UsageError("XLSX skrivs till en fil: ange -o FIL.xlsx")
        query = ReportQuery(start, end, by=dims, period=period, as_of=as_of)
        calendar, short = current_calendar(), current_app.config["SHORT_ABANDON_SECONDS"]
        meta = {"from": start.isoformat(), "to": end.isoformat(), "by": by, "as_of": iso_as_of(as_of)}
        if output is None:
            table = report(db.session, query, calendar, short)
            click.echo(
                export(fmt, list(table.columns), records(table), meta, names=names_for(fmt, db.session)), nl=False
            )
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

            data = export(fmt, list(table.columns), rows, meta, progress=row_done, names=names_for(fmt, db.session))
            advance(100)
        output.write_bytes(data)
        click.echo(f"{len(rows)} rows → {output}", err=True)
