"""The CSV history import (METRICS.md's import format): validate each row, write in bulk, idempotent on external_id."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ARRAY, String, any_, bindparam, select
from sqlalchemy.orm import Session

from ..contacts.models import Contact
from ..errors import DomainError
from ..vocabulary import (
    CHANNELS,
    KONTAKTCENTER_RESOLUTIONS,
    NEEDS,
    QUEUE_OUTCOMES,
    RESOLUTIONS,
    WALK_IN_OUTCOMES,
    WRITTEN_CHANNELS,
)
from .write import Directory, HistoryRow, write_history

# column → required (METRICS.md); "phone, walk-in" requirements are checked per row.
COLUMNS = {
    "external_id": True,
    "channel": True,
    "service_code": True,
    "arrived_at": True,
    "answered_at": False,
    "ended_at": False,
    "outcome": False,
    "callback_completed_at": False,
    "first_response_at": False,
    "resolution": False,
    "resolved_at": False,
    "escalated_to": False,
    "language": False,
    "needs": False,
    "location_code": False,
}
OUTCOMES_BY_CHANNEL = {"phone": QUEUE_OUTCOMES, "walk_in": WALK_IN_OUTCOMES}
TIME_COLUMNS = ("arrived_at", "answered_at", "ended_at", "callback_completed_at", "first_response_at", "resolved_at")
LANGUAGE = re.compile(r"^[a-z]{2}$")
BATCH_SIZE = 5000


class ImportFileError(DomainError, ValueError):
    """The file as a whole cannot be imported (header, encoding); nothing was written."""


class RowRejected(DomainError, ValueError):
    """One row breaks the format; the message is the reason shown beside its line number."""


@dataclass
class Rejection:
    line: int
    external_id: str
    reason: str


@dataclass
class ImportResult:
    accepted: int = 0
    already_imported: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.accepted + self.already_imported + len(self.rejected)


def check_header(fieldnames: list[str] | None) -> None:
    if not fieldnames:
        raise ImportFileError("the file is empty or has no header row")
    names = [n.strip() for n in fieldnames]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise ImportFileError(f"unknown column(s): {', '.join(unknown)}; the known columns are {', '.join(COLUMNS)}")
    missing = [n for n, required in COLUMNS.items() if required and n not in names]
    if missing:
        raise ImportFileError(f"missing required column(s): {', '.join(missing)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ImportFileError(f"column(s) named twice: {', '.join(repeated)}")


def _time(raw: str, column: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise RowRejected(f"{column} {raw!r} is not an ISO 8601 time such as 2026-03-02T15:00:00+01:00") from None
    if value.tzinfo is None:
        raise RowRejected(f"{column} {raw!r} has no UTC offset (write e.g. +01:00)")
    return value


def parse_row(raw: dict[str, str], directory: Directory) -> HistoryRow:
    """One CSV row → a HistoryRow, or RowRejected with the reason."""
    v = {k.strip(): (val or "").strip() for k, val in raw.items() if k is not None}
    if None in raw:
        raise RowRejected("the row has more fields than the header")
    for name, required in COLUMNS.items():
        if required and not v.get(name):
            raise RowRejected(f"{name} is required")
    external_id = v["external_id"]
    if len(external_id) > 120:
        raise RowRejected("external_id is longer than 120 characters")
    channel = v["channel"]
    if channel not in CHANNELS:
        raise RowRejected(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    if v["service_code"] not in directory.services:
        raise RowRejected(f"unknown service {v['service_code']!r}")
    times = {name: _time(v.get(name, ""), name) for name in TIME_COLUMNS}
    arrived = times["arrived_at"]
    for name in TIME_COLUMNS[1:]:
        if times[name] is not None and times[name] < arrived:
            raise RowRejected(f"{name} lies before arrived_at")
    if times["answered_at"] and times["ended_at"] and times["ended_at"] < times["answered_at"]:
        raise RowRejected("ended_at lies before answered_at")
    outcome = v.get("outcome") or None
    allowed = OUTCOMES_BY_CHANNEL.get(channel)
    if allowed:
        if outcome not in allowed:
            raise RowRejected(
                f"outcome {outcome or '(empty)'!r} does not fit channel {channel}; use one of {', '.join(allowed)}"
            )
    elif outcome:
        raise RowRejected(f"outcome is only for phone and walk_in contacts, not {channel}")
    if channel in WRITTEN_CHANNELS and (times["answered_at"] or times["ended_at"]):
        raise RowRejected(f"answered_at and ended_at are for phone and walk_in contacts, not {channel}")
    if times["first_response_at"] and channel not in WRITTEN_CHANNELS:
        raise RowRejected(f"first_response_at is for written contacts, not {channel}")
    if channel == "phone" and outcome == "answered" and not times["answered_at"]:
        raise RowRejected("an answered call needs answered_at")
    if outcome in ("abandoned", "callback_requested", "left") and times["answered_at"]:
        raise RowRejected(f"outcome {outcome} contradicts answered_at")
    if times["callback_completed_at"] and outcome != "callback_requested":
        raise RowRejected("callback_completed_at needs outcome callback_requested")
    resolution = v.get("resolution") or "unresolved"
    if resolution not in RESOLUTIONS:
        raise RowRejected(f"unknown resolution {resolution!r}; use one of {', '.join(RESOLUTIONS)}")
    if (resolution != "unresolved") != (times["resolved_at"] is not None):
        raise RowRejected("resolved_at and a resolution other than unresolved go together")
    escalated_to = v.get("escalated_to") or None
    if escalated_to:
        department_id = directory.departments.get(escalated_to)
        if department_id is None:
            raise RowRejected(f"unknown department {escalated_to!r} in escalated_to")
        if department_id not in directory.department_queue:
            raise RowRejected(f"department {escalated_to!r} has no queue to escalate to")
        if resolution in KONTAKTCENTER_RESOLUTIONS:
            raise RowRejected(f"resolution {resolution} means never escalated, but escalated_to is {escalated_to}")
    language = v.get("language") or "sv"
    if not LANGUAGE.match(language):
        raise RowRejected(f"language {language!r} is not an ISO 639-1 code such as sv")
    needs = [n.strip() for n in (v.get("needs") or "").split(";") if n.strip()]
    unknown = sorted(set(needs) - set(NEEDS))
    if unknown:
        raise RowRejected(f"unknown need(s) {', '.join(unknown)}; use {', '.join(NEEDS)}")
    location = v.get("location_code") or None
    if channel == "walk_in" and not location:
        raise RowRejected("a walk_in contact needs location_code")
    if location and location not in directory.locations:
        raise RowRejected(f"unknown location {location!r}")
    return HistoryRow(
        external_id=external_id,
        channel=channel,
        service_code=v["service_code"],
        arrived_at=arrived,
        answered_at=times["answered_at"],
        ended_at=times["ended_at"],
        outcome=outcome,
        callback_completed_at=times["callback_completed_at"],
        first_response_at=times["first_response_at"],
        resolution=resolution,
        resolved_at=times["resolved_at"],
        escalated_to=escalated_to,
        language=language,
        needs=needs,
        location_code=location,
    )


def _batches(reader: Iterable[dict[str, str]], size: int) -> Iterator[list[tuple[int, dict[str, str]]]]:
    batch: list[tuple[int, dict[str, str]]] = []
    for raw in reader:
        # line_num counts physical lines, so a quoted newline inside a field keeps the numbers right.
        batch.append((reader.line_num, raw))  # type: ignore[attr-defined]
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _already_stored(session: Session, external_ids: list[str]) -> set[str]:
    if not external_ids:
        return set()
    column = Contact.external_id
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter rather than thousands of bound values per batch.
        clause = column == any_(bindparam("ids", external_ids, type_=ARRAY(String)))
    else:
        clause = column.in_(external_ids)
    return set(session.scalars(select(column).where(clause)))


def import_contacts(
    session: Session,
    lines: Iterable[str],
    *,
    commit: Callable[[], None],
    progress: Callable[[int], None] = lambda n: None,
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    """Import CSV lines; `commit` is called after each batch so a long import keeps its progress."""
    reader = csv.DictReader(lines)
    try:
        check_header(reader.fieldnames)
    except UnicodeDecodeError:
        raise ImportFileError("the file is not UTF-8") from None
    directory = Directory(session)
    result = ImportResult()
    seen: dict[str, int] = {}
    try:
        for batch in _batches(reader, batch_size):
            rows: list[HistoryRow] = []
            for line, raw in batch:
                try:
                    row = parse_row(raw, directory)
                except RowRejected as exc:
                    result.rejected.append(Rejection(line, (raw.get("external_id") or "").strip(), str(exc)))
                    continue
                if row.external_id in seen:
                    result.rejected.append(
                        Rejection(line, row.external_id, f"external_id repeats line {seen[row.external_id]}")
                    )
                    continue
                seen[row.external_id] = line
                rows.append(row)
            stored = _already_stored(session, [r.external_id for r in rows])
            fresh = [r for r in rows if r.external_id not in stored]
            result.already_imported += len(rows) - len(fresh)
            result.accepted += write_history(session, fresh, directory)
            commit()
            progress(len(batch))
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"the file is not UTF-8 (byte {exc.start} of a chunk after line {result.total + 1})"
        ) from None
    return result
