"""The report as CSV, XLSX and JSON: METRICS.md's columns, names and decimals.

Beside the machine CSV, `csv-sv` is the CSV for people (METRICS.md "For people"):
Swedish Excel opens it in columns (semicolons, decimal comma, UTF-8 with BOM), with
Swedish headings and the directory's names instead of codes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from babel import Locale
from flask_babel import force_locale
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..directory.models import Department, Location, Service
from ..templating import CHANNEL_LABELS
from ..worktime.calendar import STOCKHOLM
from .development import FIGURE_KINDS as DEVELOPMENT_KINDS
from .engine import DECIMALS
from .engine import FIGURE_KINDS as CORE_KINDS
from .labels import FIGURE_LABELS, GROUP_LABELS
from .switchboard import FIGURE_KINDS as SWITCHBOARD_KINDS

PEOPLE_CSV = "csv-sv"
FORMATS = ("csv", PEOPLE_CSV, "xlsx", "json")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    PEOPLE_CSV: "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
# A file name's ending per format: the CSV for people is a .csv too.
FILE_ENDINGS = {"csv": ".csv", PEOPLE_CSV: "_sv.csv", "xlsx": ".xlsx", "json": ".json"}
# Every report set's figures are written by the same rules (METRICS.md "Output rules").
FIGURE_KINDS = {**CORE_KINDS, **DEVELOPMENT_KINDS, **SWITCHBOARD_KINDS}
XLSX_NUMBER_FORMATS = {"rate": "0.0000", "seconds": "0.0", "hours": "0.00", "count": "0"}


def iso_as_of(moment: datetime) -> str:
    """A report's as-of time as recorded in its outputs: ISO 8601, Stockholm time with its offset."""
    return moment.astimezone(STOCKHOLM).isoformat(timespec="seconds")


def cell_text(column: str, value: Any) -> str:
    """One CSV cell: empty for an empty figure, fixed decimals per kind."""
    if value is None:
        return ""
    kind = FIGURE_KINDS.get(column)
    if kind in DECIMALS:
        return f"{value:.{DECIMALS[kind]}f}"
    return str(value)


def to_csv(columns: list[str], rows: Iterable[dict[str, Any]], progress: Callable[[int], None] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell_text(c, row[c]) for c in columns])
        if progress:
            progress(1)
    return out.getvalue().encode("utf-8")


def swedish_names(session: Session) -> dict[str, dict[str, str]]:
    """Code → Swedish name for each group column the CSV for people names (period stays as it is)."""
    with force_locale("sv"):
        channels = {code: str(label) for code, label in CHANNEL_LABELS.items()}
    return {
        "service": dict(session.execute(select(Service.code, Service.name_sv)).all()),
        "department": dict(session.execute(select(Department.code, Department.name_sv)).all()),
        "location": dict(session.execute(select(Location.code, Location.name)).all()),
        "channel": channels,
        "language": dict(Locale.parse("sv").languages),
    }


def names_for(fmt: str, session: Session) -> dict[str, dict[str, str]] | None:
    """The names an export in `fmt` needs: only the CSV for people has any."""
    return swedish_names(session) if fmt == PEOPLE_CSV else None


def to_people_csv(
    columns: list[str],
    rows: Iterable[dict[str, Any]],
    names: dict[str, dict[str, str]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> bytes:
    """The CSV for Swedish Excel: the machine CSV's rows and figures, written for people."""
    names = names or {}
    with force_locale("sv"):
        headings = [str(GROUP_LABELS.get(c) or FIGURE_LABELS.get(c) or c) for c in columns]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(headings)
    for row in rows:
        cells = []
        for c in columns:
            value = row[c]
            if c in GROUP_LABELS:
                cells.append(names.get(c, {}).get(value, value) if value else "")
            else:
                cells.append(cell_text(c, value).replace(".", ","))
        writer.writerow(cells)
        if progress:
            progress(1)
    # The BOM tells Excel the file is UTF-8 (without it, "Tjänst" would read "TjÃ¤nst").
    return out.getvalue().encode("utf-8-sig")


def to_json(
    columns: list[str],
    rows: Iterable[dict[str, Any]],
    meta: dict[str, Any],
    progress: Callable[[int], None] | None = None,
) -> bytes:
    out = []
    for row in rows:
        out.append({c: row[c] for c in columns})
        if progress:
            progress(1)
    return json.dumps({**meta, "columns": columns, "rows": out}, ensure_ascii=False, indent=1).encode("utf-8")


def to_xlsx(
    columns: list[str],
    rows: Iterable[dict[str, Any]],
    meta: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("tillganglighet")
    sheet.append(columns)
    for row in rows:
        sheet.append([row[c] for c in columns])
        if progress:
            progress(1)
    if meta:
        # What the report was made of (period, grouping, as-of time), as in the JSON: a second sheet.
        about = workbook.create_sheet("rapport")
        for key, value in meta.items():
            about.append([key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _with_number_formats(buffer.getvalue(), columns)


def _with_number_formats(data: bytes, columns: list[str]) -> bytes:
    """Give figure columns their decimals (write-only sheets cannot style while streaming)."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.active
    for index, name in enumerate(columns, start=1):
        fmt = XLSX_NUMBER_FORMATS.get(FIGURE_KINDS.get(name, ""))
        if not fmt:
            continue
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            cell.number_format = fmt
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export(
    fmt: str,
    columns: list[str],
    rows: list[dict[str, Any]],
    meta: dict[str, Any] | None = None,
    progress=None,
    names: dict[str, dict[str, str]] | None = None,
) -> bytes:
    """The report in `fmt`; `names` (from names_for) gives the CSV for people its names."""
    if fmt == "csv":
        return to_csv(columns, rows, progress)
    if fmt == PEOPLE_CSV:
        return to_people_csv(columns, rows, names, progress)
    if fmt == "xlsx":
        return to_xlsx(columns, rows, meta, progress)
    if fmt == "json":
        return to_json(columns, rows, meta or {}, progress)
    raise ValueError(f"unknown format {fmt!r}; use {', '.join(FORMATS)}")
