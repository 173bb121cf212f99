"""The CSV history import (METRICS.md's import format): validate each row, write in bulk, idempotent on external_id.

The file is read as bytes and decoded line by line, so that a problem with the file
itself (not UTF-8, a malformed CSV record, a field over the size limit) is known with
the line where its record starts. The rows before it are written and committed, and the
import stops there: re-running the fixed file skips them (external_id) and imports the rest.
"""

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
    "citizen_key": False,
    "reason_code": False,
}
OUTCOMES_BY_CHANNEL = {"phone": QUEUE_OUTCOMES, "walk_in": WALK_IN_OUTCOMES}
TIME_COLUMNS = ("arrived_at", "answered_at", "ended_at", "callback_completed_at", "first_response_at", "resolved_at")
LANGUAGE = re.compile(r"^[a-z]{2}$")
BATCH_SIZE = 5000
CITIZEN_KEY_LENGTH = Contact.__table__.c.citizen_key.type.length


class ImportFileError(DomainError, ValueError):
    """The header row cannot be imported (unknown or missing columns); nothing was written."""


class FileProblem(Exception):
    """The file itself cannot be read on from `line` (the first line of the record it is in)."""

    def __init__(self, line: int, problem: str):
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


class _NotUtf8(Exception):
    def __init__(self, line: int, column: int, byte: int):
        super().__init__(line, column, byte)
        self.line, self.column, self.byte = line, column, byte

    def at(self, record_line: int) -> FileProblem:
        where = f"at column {self.column}" if self.line == record_line else f"on line {self.line}, column {self.column}"
        return FileProblem(record_line, f"not UTF-8 (byte 0x{self.byte:02x} {where})")


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
    # The problem with the file that stopped the import, after committing every row before it.
    stopped: FileProblem | None = None

    @property
    def total(self) -> int:
        return self.accepted + self.already_imported + len(self.rejected)

    def stop_message(self) -> str | None:
        """What stopped the import and exactly what it had committed by then."""
        if self.stopped is None:
            return None
        n = self.accepted
        done = "nothing was imported" if n == 0 else f"{n} row{'s were' if n != 1 else ' was'} imported before it"
        return f"{self.stopped}; {done}, nothing after"


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
    if channel == "phone" and outcome == "abandoned" and not times["ended_at"]:
        raise RowRejected("an abandoned call needs ended_at (the hang-up, which gives its wait)")
    escalated_to = v.get("escalated_to") or None
    if escalated_to:
        # Any department of the catalogue: history may name one without a queue of its own.
        if escalated_to not in directory.departments:
            raise RowRejected(f"unknown department {escalated_to!r} in escalated_to")
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
    citizen_key = v.get("citizen_key") or None
    if citizen_key and len(citizen_key) > CITIZEN_KEY_LENGTH:
        raise RowRejected(f"citizen_key is longer than {CITIZEN_KEY_LENGTH} characters")
    reason_code = v.get("reason_code") or None
    if reason_code:
        reasons = directory.reasons.get(v["service_code"], {})
        if reason_code not in reasons:
            raise RowRejected(
                f"reason_code {reason_code!r} is not a reason of service {v['service_code']!r}; "
                f"its reasons are {', '.join(reasons)}"
            )
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
        citizen_key=citizen_key,
        reason_code=reason_code,
    )


class _Lines:
    """The file's physical lines decoded as UTF-8 one by one, counted (csv reads from here)."""

    def __init__(self, raw: Iterable[bytes]):
        self._raw = iter(raw)
        self.number = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._raw)
        self.number += 1
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = len(line[: exc.start].decode("utf-8", "replace")) + 1
            raise _NotUtf8(self.number, column, line[exc.start]) from None
        return text.removeprefix("\ufeff") if self.number == 1 else text


def _csv_problem(exc: csv.Error) -> str:
    message = str(exc)
    limit = re.match(r"field larger than field limit \((\d+)\)", message)
    if limit:
        return f"a field is longer than the limit of {int(limit.group(1))} characters (a quote left open can make one)"
    if message == "unexpected end of data":
        return "a quoted field is still open at the end of the file"
    if "expected after" in message:
        return 'a quote inside a field that is not doubled (inside a quoted field write "" for ")'
    return f"not a valid CSV record ({message})"


def _records(reader, lines: _Lines) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) per record; FileProblem where the file cannot be read on."""
    while True:
        start = lines.number + 1  # csv reads a record's lines only when asked for it
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileProblem(start, _csv_problem(exc)) from None
        except _NotUtf8 as exc:
            raise exc.at(start) from None
        if fields:  # not a blank line
            yield start, fields


def _named(names: list[str], fields: list[str]) -> dict:
    """As csv.DictReader makes it: fields beyond the header under None."""
    raw: dict = dict(zip(names, fields, strict=False))
    if len(fields) > len(names):
        raw[None] = fields[len(names) :]
    return raw


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


def _import_batch(
    session: Session,
    names: list[str],
    batch: list[tuple[int, list[str]]],
    directory: Directory,
    result: ImportResult,
    seen: dict[str, int],
) -> None:
    rows: list[HistoryRow] = []
    for line, fields in batch:
        raw = _named(names, fields)
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


def import_contacts(
    session: Session,
    lines: Iterable[bytes],
    *,
    commit: Callable[[], None],
    progress: Callable[[int], None] = lambda n: None,
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    """Import the CSV file's lines (bytes); `commit` is called after each batch so a long import keeps its progress.

    A problem with the file stops the import: the rows before it are committed and
    `result.stopped` says where. A bad header raises ImportFileError before anything is written.
    """
    physical = _Lines(lines)
    # strict: a malformed record is reported, never guessed at.
    reader = csv.reader(physical, strict=True)
    result = ImportResult()
    records = _records(reader, physical)
    try:
        header = next(records, None)
    except FileProblem as problem:
        result.stopped = problem
        return result
    names = [n.strip() for n in header[1]] if header else None
    check_header(names)
    directory = Directory(session)
    seen: dict[str, int] = {}
    batch: list[tuple[int, list[str]]] = []
    while True:
        try:
            record = next(records, None)
        except FileProblem as problem:
            result.stopped, record = problem, None
        if record is not None:
            batch.append(record)
            if len(batch) < batch_size:
                continue
        if batch:
            _import_batch(session, names, batch, directory, result, seen)
            commit()
            progress(len(batch))
            batch = []
        if record is None:
            return result
