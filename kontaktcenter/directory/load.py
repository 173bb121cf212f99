"""A city's directory from a TOML file (`kontaktcenter directory load`): read and checked
whole, then created or updated by code. The format is described in the header of
config/directory.malmo.toml and in the README.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import Session

from ..vocabulary import LOCATION_KINDS, RETENTION_ACTIONS
from ..worktime.calendar import _Hours, _parse_clock
from ..worktime.periods import parse_period
from .models import (
    OTHER_REASONS,
    QUEUE_KINDS,
    REASON_CATEGORIES,
    ContactReason,
    Department,
    Location,
    OpeningHours,
    Queue,
    Service,
    ServiceGroup,
)

REQUIRED = object()
CODE_RE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class DirectoryFileError(Exception):
    """The file cannot be loaded; `problems` holds every reason, each with its line."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _one_of(values: Iterable[str]) -> Callable[[Any], str | None]:
    values = tuple(values)
    return lambda v: None if v in values else f"must be one of {', '.join(values)} (got {v!r})"


def _positive(v: int) -> str | None:
    return None if v > 0 else f"must be a whole number above 0 (got {v})"


def _period(v: str) -> str | None:
    try:
        parse_period(v)
    except ValueError as exc:
        return f'{exc} (write e.g. "P6M", "P1Y", "P2Y6M", "P90D")'
    return None


@dataclass(frozen=True)
class Key:
    kind: type
    default: Any = REQUIRED
    check: Callable[[Any], str | None] | None = None
    # The section whose codes this key names (in the file or already in the database).
    ref: str | None = None


NAMES = {"name_sv": Key(str), "name_en": Key(str)}
# Arabic names for the citizen pages; without one the Swedish name is shown.
NAME_AR = {"name_ar": Key(str, None)}
ACTIVE = {"active": Key(bool, True)}

# Section → (model, keys). Sections load in this order, so references exist when used.
SECTIONS: dict[str, tuple[type, dict[str, Key]]] = {
    "departments": (Department, {**NAMES, **NAME_AR, "is_contact_center": Key(bool, False)}),
    "service_groups": (ServiceGroup, {**NAMES, **NAME_AR}),
    "queues": (
        Queue,
        {
            **NAMES,
            "department": Key(str, ref="departments"),
            "kind": Key(str, check=_one_of(QUEUE_KINDS)),
            "confidential": Key(bool, False),
            **ACTIVE,
        },
    ),
    "services": (
        Service,
        {
            **NAMES,
            **NAME_AR,
            "description_sv": Key(str, ""),
            "description_en": Key(str, ""),
            "keywords": Key(str, ""),
            "department": Key(str, ref="departments"),
            "group": Key(str, "ovrigt", ref="service_groups"),
            "confidential": Key(bool, False),
            "requires_personnummer": Key(bool, False),
            "walk_in_topic": Key(bool, False),
            "open311": Key(bool, False),
            "public_requests": Key(bool, False),
            "answer_target_seconds": Key(int, 60, _positive),
            "sla_first_response_days": Key(int, 1, _positive),
            "sla_accept_days": Key(int, 1, _positive),
            "sla_resolve_days": Key(int, 10, _positive),
            "retention_period": Key(str, "P1Y", _period),
            "retention_action": Key(str, "anonymise", _one_of(RETENTION_ACTIONS)),
            **ACTIVE,
        },
    ),
    "locations": (
        Location,
        {
            "name": Key(str),
            "kind": Key(str, check=_one_of(LOCATION_KINDS)),
            "district": Key(str, ""),
            "address": Key(str, ""),
            "queue_numbers": Key(bool, False),
            **ACTIVE,
        },
    ),
    "opening_hours": (
        OpeningHours,
        {
            "open": Key(str, None),
            "close": Key(str, None),
            "eve_open": Key(str, None),
            "eve_close": Key(str, None),
            "closed": Key(bool, False),
        },
    ),
}
TYPE_NAMES = {str: "a string in quotes", bool: "true or false", int: "a whole number"}
# A service's contact reasons: [services.CODE.reasons] with one inline table per reason code.
REASONS = "reasons"
REASON_KEYS = {
    "name_sv": Key(str),
    "name_en": Key(str, ""),
    "category": Key(str, check=_one_of(REASON_CATEGORIES)),
    **ACTIVE,
}


@dataclass
class Entry:
    code: str
    line: int
    values: dict[str, Any]  # every key of the section, defaults filled in
    # Keys naming a code not in this file: it must be in the database already.
    outside: list[str] = field(default_factory=list)
    # A service's contact reasons: code → values (REASON_KEYS, defaults filled in).
    reasons: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class DirectoryFile:
    path: str
    sections: dict[str, dict[str, Entry]]
    index: LineIndex

    def __getitem__(self, section: str) -> dict[str, Entry]:
        return self.sections[section]

    def codes(self, section: str) -> list[str]:
        return list(self.sections[section])


# -- line numbers -------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[(?!\[)\s*(.+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=")
_PART = re.compile(r"\s*([A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')\s*(?:\.|$)")


def _key_path(text: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _PART.findall(text))


class LineIndex:
    """Where each table and key of a TOML text starts (tomllib reports no positions).

    Scans the lines for table headers (`[a.b]`) and keys (`k = …`), both with bare or
    quoted parts; the first line naming a path wins. Keys inside multi-line strings or
    arrays could be misread as keys, but only ever as keys of the table they are in.
    """

    def __init__(self, text: str):
        self.lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                table = _key_path(header.group(1))
                # [a.b] also starts table a, unless a line above did.
                for end in range(1, len(table) + 1):
                    self.lines.setdefault(table[:end], number)
                continue
            key = _KEY.match(line)
            if key:
                self.lines.setdefault(table + _key_path(key.group(1)), number)

    def line(self, *path: str) -> int:
        """The line of `path`, or of the nearest enclosing table found (1 if none)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1


# -- reading ------------------------------------------------------------------------


def _decode_error_line(exc: tomllib.TOMLDecodeError) -> tuple[int, str]:
    match = re.search(r"\s*\(at line (\d+), column \d+\)", str(exc))
    if match:
        return int(match.group(1)), str(exc)[: match.start()] + str(exc)[match.end() :]
    return getattr(exc, "lineno", 1), str(exc)


def _values(
    raw: dict[str, Any], keys: dict[str, Key], model: type, where: tuple[str, ...], problem: Callable[..., None]
) -> dict[str, Any]:
    """The entry's values by `keys`, defaults filled in; each problem reported at its key."""
    name = ".".join(where)
    values: dict[str, Any] = {}
    for key in raw:
        if key not in keys:
            problem(f"unknown key {key!r} in [{name}]; known: {', '.join(keys)}", *where, key)
    for key, spec in keys.items():
        if key not in raw:
            if spec.default is REQUIRED:
                problem(f"[{name}] lacks {key}", *where)
            values[key] = spec.default
            continue
        value = raw[key]
        if not isinstance(value, spec.kind) or (spec.kind is int and isinstance(value, bool)):
            problem(f"{name}.{key} must be {TYPE_NAMES[spec.kind]} (got {value!r})", *where, key)
            continue
        message = spec.check(value) if spec.check else None
        column = model.__table__.c.get(key)
        if (
            message is None
            and column is not None
            and isinstance(column.type, String)
            and column.type.length
            and len(value) > column.type.length
        ):
            message = f"is longer than {column.type.length} characters"
        if message:
            problem(f"{name}.{key} {message}", *where, key)
            continue
        values[key] = value
    return values


def _reasons(raw: Any, where: tuple[str, ...], problem: Callable[..., None]) -> dict[str, dict[str, Any]]:
    """A service's [services.CODE.reasons] table: reason code → values."""
    where = (*where, REASONS)
    if not isinstance(raw, dict):
        problem(f"{'.'.join(where)} must be a table of reasons: code = {{ name_sv = …, category = … }}", *where)
        return {}
    reasons: dict[str, dict[str, Any]] = {}
    limit = ContactReason.__table__.c.code.type.length
    for code, entry in raw.items():
        at = (*where, code)
        if not isinstance(entry, dict):
            problem(f'{".".join(at)} must be a table: {code} = {{ name_sv = "…", category = "value" }}', *at)
            continue
        if not CODE_RE.match(code):
            problem(f'reason code {code!r} may hold only letters, digits, "-" and "_"', *at)
        if len(code) > limit:
            problem(f"reason code {code!r} is longer than {limit} characters", *at)
        values = _values(entry, REASON_KEYS, ContactReason, at, problem)
        if code in OTHER_REASONS and (values.get("category") != OTHER_REASONS[code][1] or not values["active"]):
            # Renaming it is fine; every list keeps an active "other" of each category.
            problem(
                f"{'.'.join(at)}: {code!r} is the list's other {OTHER_REASONS[code][1]!r} reason "
                f'(category = "{OTHER_REASONS[code][1]}", always active)',
                *at,
            )
        reasons[code] = values
    return reasons


def read_directory(path: Path | str, text: str | None = None) -> DirectoryFile:
    """Parse and check a directory file on its own; DirectoryFileError lists every problem."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DirectoryFileError([Problem(name, 0, f"cannot read the file: {exc}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = _decode_error_line(exc)
        raise DirectoryFileError([Problem(name, line, f"not valid TOML: {message}")]) from None

    index = LineIndex(text)
    problems: list[Problem] = []

    def problem(message: str, *where: str) -> None:
        problems.append(Problem(name, index.line(*where), message))

    sections: dict[str, dict[str, Entry]] = {s: {} for s in SECTIONS}
    for section, entries in data.items():
        if section not in SECTIONS:
            problem(f"unknown section [{section}]; known: {', '.join(SECTIONS)}", section)
            continue
        if not isinstance(entries, dict):
            problem(f"{section} must hold one table per entry: [{section}.CODE]", section)
            continue
        model, keys = SECTIONS[section]
        seen: dict[str, str] = {}
        for code, raw in entries.items():
            where = (section, code)
            if not isinstance(raw, dict):
                problem(f"{section}.{code} must be a table: [{section}.{code}] followed by its keys", *where)
                continue
            if not CODE_RE.match(code):
                problem(f'code {code!r} may hold only letters, digits, "-" and "_"', *where)
            limit = model.__table__.c.code.type.length
            if len(code) > limit:
                problem(f"code {code!r} is longer than {limit} characters", *where)
            if code.casefold() in seen:
                problem(
                    f"duplicate code {code!r} in [{section}] (also {seen[code.casefold()]!r}: codes are compared "
                    "without case)",
                    *where,
                )
            seen.setdefault(code.casefold(), code)
            before = len(problems)
            reasons: dict[str, dict[str, Any]] = {}
            if section == "services" and REASONS in raw:
                raw = dict(raw)
                reasons = _reasons(raw.pop(REASONS), where, problem)
            values = _values(raw, keys, model, where, problem)
            if section == "opening_hours" and len(problems) == before:
                hours = {k: v for k, v in raw.items() if k in keys}
                try:
                    _Hours(code, hours)
                except ValueError as exc:
                    problem(str(exc), *where)
                else:
                    for key in ("open", "close", "eve_open", "eve_close"):
                        if values.get(key) is not None:
                            values[key] = _parse_clock(values[key], key).strftime("%H:%M")
            sections[section][code] = Entry(code, index.line(*where), values, reasons=reasons)

    if problems:
        raise DirectoryFileError(problems)
    # References to entries not in the file are looked up in the database on load.
    for section, (_model, keys) in SECTIONS.items():
        for entry in sections[section].values():
            entry.outside = [k for k, spec in keys.items() if spec.ref and entry.values[k] not in sections[spec.ref]]
    return DirectoryFile(name, sections, index)


# -- loading ------------------------------------------------------------------------


@dataclass
class LoadReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    # In the database but not in the file: kept (tickets and history refer to them).
    kept: dict[str, list[str]] = field(default_factory=dict)
    # Opening hours not in the file are removed: they are settings, not records.
    removed_hours: list[str] = field(default_factory=list)
    # Contact reasons: created, updated, unchanged (the "other" reasons made for a service count as created).
    reasons: tuple[int, int, int] = (0, 0, 0)

    def lines(self) -> list[str]:
        out = [
            f"{section}: {self.created.get(section, 0)} created, {self.updated.get(section, 0)} updated, "
            f"{self.unchanged.get(section, 0)} unchanged"
            for section in SECTIONS
        ]
        out.append("contact reasons: {} created, {} updated, {} unchanged".format(*self.reasons))
        for section, codes in self.kept.items():
            out.append(
                f"{section} in the database but not in the file, kept (not deleted; set active = false "
                f"to retire one): {', '.join(codes)}"
            )
        if self.removed_hours:
            out.append(f"opening hours no longer in the file, removed: {', '.join(self.removed_hours)}")
        return out


def unresolved_references(session: Session, directory: DirectoryFile) -> list[Problem]:
    """References to codes neither in the file nor already in the database."""
    problems = []
    for section, (_model, keys) in SECTIONS.items():
        for entry in directory[section].values():
            for key in entry.outside:
                target = keys[key].ref
                target_model = SECTIONS[target][0]
                value = entry.values[key]
                if session.scalar(select(target_model.code).where(target_model.code == value)) is None:
                    problems.append(
                        Problem(
                            directory.path,
                            directory.index.line(section, entry.code, key),
                            f"{section}.{entry.code}.{key}: unknown {target.rstrip('s').replace('_', ' ')} {value!r} "
                            f"(not in [{target}] of this file nor in the database)",
                        )
                    )
    # Opening hours name a queue or a service (or "default").
    known = set(directory.codes("queues")) | set(directory.codes("services")) | {"default"}
    for entry in directory["opening_hours"].values():
        if (
            entry.code not in known
            and session.scalar(select(Queue.code).where(Queue.code == entry.code)) is None
            and session.scalar(select(Service.code).where(Service.code == entry.code)) is None
        ):
            problems.append(
                Problem(
                    directory.path,
                    entry.line,
                    f"opening_hours.{entry.code}: no queue or service has the code {entry.code!r} "
                    '(use "default" for every other queue)',
                )
            )
    return problems


def load_directory(session: Session, directory: DirectoryFile) -> LoadReport:
    """Create or update every entry of the file; flushes, the caller commits.

    Raises DirectoryFileError (and changes nothing) when a reference is unknown.
    """
    problems = unresolved_references(session, directory)
    if problems:
        raise DirectoryFileError(problems)
    report = LoadReport()
    departments: dict[str, Department] = {}
    for section, (model, _keys) in SECTIONS.items():
        existing = {row.code: row for row in session.scalars(select(model))}
        created = updated = unchanged = 0
        for position, entry in enumerate(directory[section].values()):
            row = existing.get(entry.code)
            values = dict(entry.values)
            if "department" in values:
                code = values["department"]
                values["department"] = departments.get(code) or session.scalar(
                    select(Department).where(Department.code == code)
                )
            if section == "service_groups":
                values["position"] = position
            new = row is None
            if new:
                row = model(code=entry.code)
            changed = False
            for key, value in values.items():
                if getattr(row, key) != value:
                    setattr(row, key, value)
                    changed = True
            if new:
                session.add(row)  # complete: a query's autoflush never meets a half-made row
                created += 1
            elif changed:
                updated += 1
            else:
                unchanged += 1
            if section == "departments":
                departments[entry.code] = row
        session.flush()
        report.created[section], report.updated[section], report.unchanged[section] = created, updated, unchanged
        missing = sorted(set(existing) - set(directory[section]))
        if section == "opening_hours":
            for code in missing:
                session.delete(existing[code])
            report.removed_hours = missing
        elif missing:
            report.kept[section] = missing
        if section == "services":
            report.reasons = load_reasons(session, directory)
    session.flush()
    return report


def load_reasons(session: Session, directory: DirectoryFile) -> tuple[int, int, int]:
    """Each service's reasons as the file gives them, and the "other" reasons every service has.

    A reason left out of the file is kept, as other entries are: contacts refer to it
    (set active = false to retire one). Returns (created, updated, unchanged).
    """
    created = updated = unchanged = 0
    existing = {(r.service_id, r.code): r for r in session.scalars(select(ContactReason))}
    others = {
        code: {"name_sv": name, "category": category, "active": True}
        for code, (name, category) in OTHER_REASONS.items()
    }
    for service in session.scalars(select(Service).order_by(Service.id)):
        entry = directory["services"].get(service.code)
        if entry is None:  # not in this file: only the "other" reasons it must have
            wanted = {code: values for code, values in others.items() if (service.id, code) not in existing}
        else:  # as for every entry, an "other" the file does not rename goes back to its default
            wanted = {**entry.reasons, **{code: values for code, values in others.items() if code not in entry.reasons}}
        for code, values in wanted.items():
            reason = existing.get((service.id, code))
            if reason is None:
                session.add(ContactReason(service_id=service.id, code=code, **values))
                created += 1
            elif any(getattr(reason, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(reason, k, v)
                updated += 1
            else:
                unchanged += 1
    return created, updated, unchanged
