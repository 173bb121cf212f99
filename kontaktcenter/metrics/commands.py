"""`kontaktcenter report`: the tillgänglighet report from the command line."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click
from flask import Flask, current_app

from ..database import db
from ..worktime.calendar import STOCKHOLM
from .development import development_report
from .engine import REPORT_QUERIES, ReportError, ReportQuery, check_period, parse_by, query_progress, records
from .export_jobs import QUERY_SHARE
from .exports import FORMATS, export, iso_as_of, names_for
from .report import report
from .switchboard import switchboard_report


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


def _optional_date(ctx, param, value: str | None) -> date | None:
    return None if value is None else _date(ctx, param, value)


REPORT_SETS = ("core", "development", "quarter", "switchboard")


def _write(data: bytes, output: Path | None) -> None:
    if output is None:
        click.echo(data, nl=False)
    else:
        output.write_bytes(data)
        click.echo(f"→ {output}", err=True)


def _quarter_command(code: str, quarter: str, cost: float | None, fmt: str, as_of: datetime, output: Path | None):
    """The department quarter report as JSON, or the printable HTML page (--format html)."""
    from flask import render_template
    from sqlalchemy import select

    from ..directory.models import Department
    from ..worktime.calendar import current_calendar
    from .quarter import QuarterError, quarter_report
    from .targets import report_targets

    if fmt == "csv":  # the command's default: the quarter report is a document, JSON by default
        fmt = "json"
    if fmt not in ("json", "html"):
        raise click.UsageError("--set quarter skrivs som --format json eller --format html.")
    department = db.session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise click.UsageError(f"Okänd förvaltning {code!r}: ange --department med en kod ur katalogen.")
    try:
        result = quarter_report(
            db.session,
            current_calendar(),
            current_app.config,
            department,
            quarter,
            as_of,
            total_cost=cost,
            targets=report_targets(),
        )
    except QuarterError as exc:
        raise click.UsageError(str(exc)) from None
    if fmt == "json":
        data = json.dumps(
            {"set": "quarter", **result, "as_of": iso_as_of(as_of)}, ensure_ascii=False, indent=1, default=str
        ).encode("utf-8")
    else:
        with current_app.test_request_context("/reports/kvartal"):
            data = render_template("metrics/quarter_print.html", result=result, standalone=True).encode("utf-8")
    _write(data, output)


def register(app: Flask) -> None:
    @app.cli.command("report")
    @click.option(
        "--set",
        "report_set",
        type=click.Choice(REPORT_SETS),
        default="core",
        show_default=True,
        help="core: tillgänglighet; development: tjänsteutveckling; quarter: a department's quarter report; switchboard: växel, transfers, offers",
    )
    @click.option("--from", "start", callback=_optional_date, help="first local date, YYYY-MM-DD")
    @click.option("--to", "end", callback=_optional_date, help="last local date (included)")
    @click.option("--department", default="", help="--set quarter: the department's code")
    @click.option("--quarter", default="", help="--set quarter: YYYY-QN, e.g. 2026-Q3")
    @click.option(
        "--cost", type=float, default=None, help="--set quarter: the contact center's cost for the quarter, kr"
    )
    @click.option(
        "--by",
        default="",
        help="comma-separated: service, department, channel, location, language, period:day|week|month",
    )
    @click.option("--format", "fmt", type=click.Choice((*FORMATS, "html")), default="csv", show_default=True)
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
    def report_command(
        report_set: str,
        start: date | None,
        end: date | None,
        department: str,
        quarter: str,
        cost: float | None,
        by: str,
        fmt: str,
        as_of: datetime,
        output: Path | None,
    ) -> None:
        """The tillgänglighet report (columns and figures as in METRICS.md), or another set."""
        from ..worktime.calendar import current_calendar

        if report_set == "quarter":
            _quarter_command(department, quarter, cost, fmt, as_of, output)
            return
        if start is None or end is None:
            raise click.UsageError("Ange --from och --to (ÅÅÅÅ-MM-DD).")
        try:
            dims, period = parse_by(by)
            check_period(start, end)
        except ReportError as exc:
            raise click.UsageError(exc.sv) from None
        if report_set in ("development", "switchboard"):
            if fmt == "xlsx" and output is None and sys.stdout.isatty():
                raise click.UsageError("XLSX skrivs till en fil: ange -o FIL.xlsx")
            query = ReportQuery(start, end, by=dims, period=period, as_of=as_of)
            figures = development_report if report_set == "development" else switchboard_report
            table = figures(db.session, query)
            meta = {"set": report_set, "from": start.isoformat(), "to": end.isoformat(), "by": by}
            meta["as_of"] = iso_as_of(as_of)
            data = export(fmt, list(table.columns), records(table), meta, names=names_for(fmt, db.session))
            _write(data, output)
            return
        if fmt == "xlsx" and output is None and sys.stdout.isatty():
            raise click.UsageError("XLSX skrivs till en fil: ange -o FIL.xlsx")
        if fmt == "html":
            raise click.UsageError("HTML skrivs bara för --set quarter.")
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
