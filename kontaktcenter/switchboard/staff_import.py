"""The HR export into the switchboard directory (`kontaktcenter directory import-staff FILE.csv`).

The file: CSV, UTF-8 (a byte-order mark is allowed), comma-separated, a header row, one
row per employee, columns in any order:

| column | required | meaning |
|---|---|---|
| `employee_id` | yes | the HR system's id; a re-import updates that person, never adds them twice |
| `name` | yes | first and last name |
| `department` | yes | the department's code in the directory (`sbk`, `kultur`, …) |
| `title` | no | job title |
| `unit` | no | unit or section |
| `phone` | no | a number (Swedish national format or +46…) or a `sip:` address; stored as E.164 |
| `email` | no | e-mail address |
| `keywords` | no | what callers may ask this person about, comma-separated |
| `absent_until` | no | absence notice: away through this date (`YYYY-MM-DD`) or until this time (ISO 8601) |
| `absence_message` | no | the absence notice read to callers and shown to agents |
| `alternative_employee_id` | no | who answers instead while the person is away (in the file or the directory) |

A column the file does not have leaves that value of existing entries as it is (so an
export without absence columns keeps the notices the coordinators keep on the page).
Unknown columns are refused. A row that breaks a rule is rejected with its line number
and reason, and nothing of it is written; the other rows are imported. A full import
(the default) deactivates the active staff the file does not name at all: they are kept,
not deleted, since earlier calls and transfers name them. `--partial` only adds and updates.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..directory.models import Department
from ..errors import DomainError
from . import staff as rules
from .models import StaffMember

REQUIRED = ("employee_id", "name", "department")
OPTIONAL = (
    "title",
    "unit",
    "phone",
    "email",
    "keywords",
    "absent_until",
    "absence_message",
    "alternative_employee_id",
)
COLUMNS = (*REQUIRED, *OPTIONAL)
DEMO_STAFF = Path(__file__).with_name("demo_staff.csv")
# A row longer than this is no HR record (the longest fields together are far below it).
MAX_ROW_CHARS = 10_000


class StaffFileError(DomainError):
    """The file as a whole cannot be read (its header, its format): nothing was changed."""


@dataclass(frozen=True)
class Rejected:
    line: int
    employee_id: str
    reason: str

    def __str__(self) -> str:
        who = f" {self.employee_id}:" if self.employee_id else ""
        return f"line {self.line}:{who} {self.reason}"


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.deactivated} deactivated, {len(self.rejected)} rejected"
        )


@dataclass
class _Row:
    line: int
    employee_id: str
    values: dict[str, Any]
    alternative: str | None  # the alternative's employee_id (None: column absent)


def read_rows(data: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and (line number, row) pairs. Bytes that are not UTF-8 stay as surrogates,
    so the row that holds them is rejected and not the whole file."""
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise StaffFileError("Filen är tom: den ska ha en rubrikrad.") from None
    except csv.Error as exc:
        raise StaffFileError("Rad 1 är inte CSV: %(error)s", error=str(exc)) from None
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown or any(_bad_text(h) for h in header):
        raise StaffFileError(
            "Okända kolumner: %(columns)s (kända: %(known)s).",
            columns=", ".join(repr(h) for h in unknown) or "?",
            known=", ".join(COLUMNS),
        )
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise StaffFileError("Kolumner saknas: %(columns)s.", columns=", ".join(missing))
    if len(set(header)) != len(header):
        raise StaffFileError("En kolumn finns två gånger i rubrikraden.")
    rows = []
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise StaffFileError(
                "Rad %(line)d är inte giltig CSV (%(error)s); inget har ändrats.", line=line, error=str(exc)
            ) from None
        if any(cell.strip() for cell in record):
            rows.append((line, _as_row(header, record)))
        line = reader.line_num + 1
    return header, rows


def _bad_text(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def _as_row(header: list[str], record: list[str]) -> dict[str, str]:
    row = dict(zip(header, record, strict=False))
    if len(record) != len(header):
        row["\x00columns"] = str(len(record))  # a marker the row check reports
    return row


def _check(row: dict[str, str], line: int, departments: dict[str, Department], header: list[str]) -> _Row:
    """The row's values, cleaned, or StaffError saying what is wrong with it."""
    if "\x00columns" in row:
        raise rules.StaffError(
            "Raden har %(found)s fält, rubrikraden %(expected)d.", found=row["\x00columns"], expected=len(header)
        )
    if any(_bad_text(v) for v in row.values()):
        raise rules.StaffError("Raden är inte UTF-8 (fel teckenkodning): spara filen som UTF-8.")
    if sum(len(v) for v in row.values()) > MAX_ROW_CHARS:
        raise rules.StaffError("Raden är för lång (högst %(max)d tecken).", max=MAX_ROW_CHARS)
    employee_id = rules.clean_text("employee_id", row.get("employee_id"), required=True)
    values: dict[str, Any] = {"name": rules.clean_text("name", row.get("name"), required=True)}
    code = (row.get("department") or "").strip().lower()
    department = departments.get(code)
    if department is None:
        raise rules.StaffError("Okänd förvaltning %(code)s.", field="department", code=repr(code))
    values["department_id"] = department.id
    for name in ("title", "unit", "keywords", "absence_message"):
        if name in header:
            values[name] = rules.clean_text(name, row.get(name))
    if "phone" in header:
        values["phone"] = rules.clean_phone(row.get("phone"))
    if "email" in header:
        values["email"] = rules.clean_email(row.get("email"))
    if "absent_until" in header:
        values["absent_until"] = rules.clean_absent_until(row.get("absent_until"))
    alternative = None
    if "alternative_employee_id" in header:
        alternative = rules.clean_text("employee_id", row.get("alternative_employee_id"))
        if alternative == employee_id:
            raise rules.StaffError("Hänvisa till någon annan än personen själv.")
    return _Row(line, employee_id, values, alternative)


def import_staff(session: Session, data: bytes, *, full: bool = True) -> ImportReport:
    """Add and update the directory from an HR export; the caller commits.

    Every row is checked before anything is written, so a rejected row leaves no trace.
    """
    header, raw_rows = read_rows(data)
    report = ImportReport()
    departments = {d.code.lower(): d for d in session.scalars(select(Department))}
    named: set[str] = set()  # every employee_id the file names, rejected rows' too
    accepted: dict[str, _Row] = {}
    for line, raw in raw_rows:
        raw_id = (raw.get("employee_id") or "").strip()
        try:
            row = _check(raw, line, departments, header)
        except DomainError as exc:
            shown = raw_id if len(raw_id) <= rules.MAX_LENGTHS["employee_id"] and not _bad_text(raw_id) else ""
            report.rejected.append(Rejected(line, shown.replace("\x00", ""), str(exc)))
            if raw_id:
                named.add(raw_id)
            continue
        named.add(row.employee_id)
        if row.employee_id in accepted:
            first = accepted[row.employee_id].line
            report.rejected.append(
                Rejected(line, row.employee_id, f"samma employee_id som rad {first}: bara rad {first} importeras")
            )
            continue
        accepted[row.employee_id] = row
    existing = {
        s.employee_id: s
        for s in session.scalars(select(StaffMember).where(StaffMember.employee_id.in_(list(named) or [""])))
    }
    _reject_unknown_alternatives(session, accepted, existing, report)
    for row in accepted.values():
        _upsert(session, row, existing, report)
    session.flush()
    for row in accepted.values():
        if row.alternative is not None:
            member = existing[row.employee_id]
            alternative = existing.get(row.alternative) if row.alternative else None
            if alternative is None and row.alternative:
                alternative = session.scalar(select(StaffMember).where(StaffMember.employee_id == row.alternative))
            member.alternative = alternative
    if full and accepted:
        # Only a file with accepted rows deactivates: an empty or wholly broken export must
        # not empty the directory.
        for member in session.scalars(
            select(StaffMember).where(StaffMember.active.is_(True), StaffMember.employee_id.not_in(list(named)))
        ):
            member.active = False
            report.deactivated += 1
    session.flush()
    report.rejected.sort(key=lambda r: r.line)
    return report


def _reject_unknown_alternatives(
    session: Session, accepted: dict[str, _Row], existing: dict[str, StaffMember], report: ImportReport
) -> None:
    """A row whose alternative is neither an accepted row nor in the directory is rejected
    (repeatedly: rejecting one row can leave another's alternative without a person)."""
    wanted = {r.alternative for r in accepted.values() if r.alternative}
    stored = set(
        session.scalars(
            select(StaffMember.employee_id).where(
                StaffMember.employee_id.in_(list(wanted) or [""]), StaffMember.active.is_(True)
            )
        )
    )
    changed = True
    while changed:
        changed = False
        for employee_id, row in list(accepted.items()):
            if row.alternative and row.alternative not in accepted and row.alternative not in stored:
                report.rejected.append(
                    Rejected(row.line, employee_id, f"alternative_employee_id {row.alternative!r} finns inte")
                )
                del accepted[employee_id]
                changed = True


def _upsert(session: Session, row: _Row, existing: dict[str, StaffMember], report: ImportReport) -> None:
    member = existing.get(row.employee_id)
    if member is None:
        member = StaffMember(employee_id=row.employee_id, active=True, **_defaults(row.values))
        session.add(member)
        existing[row.employee_id] = member
        report.added += 1
        return
    changes = {k: v for k, v in row.values.items() if getattr(member, k) != v}
    if not member.active:
        changes["active"] = True
    if not changes:
        report.unchanged += 1
        return
    for name, value in changes.items():
        setattr(member, name, value)
    report.updated += 1


def _defaults(values: dict[str, Any]) -> dict[str, Any]:
    base = {"title": "", "unit": "", "phone": "", "email": "", "keywords": "", "absence_message": ""}
    return {**base, **values}


def import_file(session: Session, path: Path, *, full: bool = True) -> ImportReport:
    return import_staff(session, path.read_bytes(), full=full)
