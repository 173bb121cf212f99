"""The access log for admins and dataskydd: filtered, paged, exported as CSV, and kept for
its own period (ACCESS_LOG_RETENTION) by a nightly job, its only deletion.

The log itself is append-only (tickets/models.py: an ORM guard; on PostgreSQL a trigger).
Looking someone up in the log by personnummer, phone or e-mail is itself a search by an
identifier, and so is logged (masked); exporting it is an export of personal data, logged too.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, or_, select, text
from sqlalchemy.orm import Session, selectinload

from ..channels.tokens.models import ApiToken
from ..contacts.models import Contact
from ..directory.models import User
from ..tickets.access import log_access
from ..tickets.models import RETENTION_OPTION, AccessLog, Ticket
from ..worktime.calendar import STOCKHOLM
from ..worktime.periods import Period
from .extract import COLUMN, Person

ACCESS_ROLES = ("admin", "dataskydd")
DEFAULT_RETENTION = "P2Y"
# Spreadsheets run a cell starting with these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class LogFilter:
    username: str = ""
    reference: str = ""
    person: Person | None = None
    start: date | None = None  # local dates, both included
    end: date | None = None


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=STOCKHOLM)


def _query(f: LogFilter):
    stmt = (
        select(AccessLog, Ticket.reference, ApiToken.name)
        .outerjoin(Ticket, Ticket.id == AccessLog.ticket_id)
        .outerjoin(ApiToken, ApiToken.id == AccessLog.api_token_id)
    )
    if f.reference:
        stmt = stmt.where(Ticket.reference == f.reference.strip().upper())
    if f.username:
        stmt = stmt.join(User, User.id == AccessLog.user_id).where(User.username == f.username.strip())
    if f.person is not None:
        # The person's tickets: those with a contact carrying one of the identifiers given.
        theirs = select(Contact.ticket_id).where(
            Contact.ticket_id.is_not(None), or_(*(COLUMN[kind] == value for kind, value in f.person.given()))
        )
        stmt = stmt.where(AccessLog.ticket_id.in_(theirs))
    if f.start is not None:
        stmt = stmt.where(AccessLog.at >= _local_midnight(f.start))
    if f.end is not None:
        stmt = stmt.where(AccessLog.at < _local_midnight(f.end + timedelta(days=1)))
    return stmt.options(selectinload(AccessLog.user))


def entries(session: Session, f: LogFilter, *, limit: int | None = 200, offset: int = 0) -> list:
    """(AccessLog, ticket reference or None, API token name or None), newest first."""
    stmt = _query(f).order_by(AccessLog.at.desc(), AccessLog.id.desc()).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.execute(stmt).all())


def note_lookup(session: Session, user: User, f: LogFilter) -> None:
    """A look-up by a person's identifiers is an identifier search: logged, masked."""
    if f.person is not None:
        log_access(session, user, None, "search_access_log", detail=f.person.masked())


def actor(entry: AccessLog, token_name: str | None) -> tuple[str, str, str]:
    """(name, username or token, role or "api") for display and export."""
    if entry.user is not None:
        return entry.user.name, entry.user.username, entry.user.role
    if entry.api_token_id is not None:
        return token_name or "", f"token {entry.api_token_id}", "api"
    return "", "", "anonymous"


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


COLUMNS = ("tid", "namn", "anvandare", "roll", "arende", "handling", "tillaten", "skal", "detalj")


def to_csv(rows: list) -> bytes:
    """Swedish Excel's CSV: `;` between fields, UTF-8 with a byte order mark, local times."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for entry, reference, token_name in rows:
        name, username, role = actor(entry, token_name)
        writer.writerow(
            [
                entry.at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M:%S"),
                _cell(name),
                _cell(username),
                role,
                reference or "",
                entry.action,
                "ja" if entry.allowed else "nej",
                _cell(entry.reason),
                _cell(entry.detail),
            ]
        )
    return out.getvalue().encode("utf-8-sig")


def export(session: Session, user: User, f: LogFilter) -> bytes:
    """The filtered log as CSV; the export is itself an access-log row (it holds personal data)."""
    rows = entries(session, f, limit=None)
    log_access(session, user, None, "export_access_log", detail=f"{len(rows)} rader")
    return to_csv(rows)


def prune(session: Session, now: datetime, period: Period) -> int:
    """Delete the rows older than `period` before `now`: the log's one deletion. On
    PostgreSQL the append-only trigger lets it through for this transaction only."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("SELECT set_config('kontaktcenter.access_log_retention', 'on', true)"))
    result = session.execute(
        delete(AccessLog).where(AccessLog.at < period.before(now)),
        execution_options={RETENTION_OPTION: True, "synchronize_session": False},
    )
    if postgres:
        session.execute(text("SELECT set_config('kontaktcenter.access_log_retention', 'off', true)"))
    return result.rowcount or 0
