"""Creating and changing staff accounts, as plain functions used by the pages and the CLI.

Each change is validated whole before anything is written (bad input changes nothing)
and recorded in the admin audit log (changes.py). Administrators never see or set a
password: a new account and a reset get a one-time link (links.py).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth import sessions, two_factor
from ..auth.passwords import check_password
from ..auth.service import change_password, deactivate, find_user, hash_password
from ..contacts.citizen import IdentifierError, normalise_email, normalise_phone
from ..directory.models import Department, Location, Queue, Service, User
from ..errors import DomainError
from ..notify.email import send_email
from ..vocabulary import LANGUAGES, ROLES
from . import changes, links
from .changes import Actor

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,79}$")
SIP_RE = re.compile(r"^sip:[A-Za-z0-9._~+%-]+@[A-Za-z0-9.-]+(:\d{1,5})?$")
CLIENT_RE = re.compile(r"^client:[A-Za-z0-9_.-]{1,90}$")
MAX_CAPACITY = 100


class AccountError(DomainError, ValueError):
    """The change cannot be made; `problems` maps a field ("" for the whole) to a message."""

    def __init__(self, problems: Mapping[str, Any]) -> None:
        super().__init__(dict(problems), field=next(iter(problems), None) or None)
        self.problems = dict(problems)

    def translated(self) -> str:  # rendered when shown: the messages are translated lazily
        return "; ".join(f"{k}: {v}" if k else str(v) for k, v in self.problems.items())

    def messages(self) -> list[str]:
        return [str(v) for v in self.problems.values()]


@dataclass
class AccountFields:
    """What an administrator sets on an account (codes, not objects)."""

    name: str
    role: str
    email: str = ""
    department: str | None = None
    location: str | None = None
    queues: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=lambda: ["sv"])
    phone_identity: str = ""
    max_open_tickets: int = 5

    @classmethod
    def of(cls, user: User) -> AccountFields:
        snap = changes.snapshot(user)
        return cls(**{f.name: snap[f.name] for f in fields(cls)})

    def but(self, **changed: Any) -> AccountFields:
        """A copy with the given fields changed (None leaves a field as it is)."""
        return replace(self, **{k: v for k, v in changed.items() if v is not None})


def normalise_phone_identity(value: str) -> str:
    """Where calls for the user go: an E.164 number, sip:user@host, or client:identity."""
    value = value.strip()
    if not value:
        return ""
    if value.lower().startswith("sip:"):
        if SIP_RE.match(value):
            return value
    elif value.startswith("client:"):
        if CLIENT_RE.match(value):
            return value
    else:
        try:
            return normalise_phone(value)
        except IdentifierError:
            pass
    raise AccountError(
        {
            "phone_identity": _l(
                "Ange ett telefonnummer (t.ex. +46401234567), en SIP-adress (sip:namn@värd) "
                "eller en klientidentitet (client:namn)."
            )
        }
    )


@dataclass
class _Resolved:
    department: Department | None
    location: Location | None
    queues: list[Queue]
    services: list[Service]
    email: str
    phone_identity: str


def _by_codes(session: Session, model, codes: list[str]) -> tuple[list, list[str]]:
    wanted = list(dict.fromkeys(codes))
    found = {item.code: item for item in session.scalars(select(model).where(model.code.in_(wanted)))} if wanted else {}
    return [found[c] for c in wanted if c in found], [c for c in wanted if c not in found]


def _resolve(session: Session, data: AccountFields) -> _Resolved:
    """Check every field; raise AccountError naming each bad one (nothing is written)."""
    problems: dict[str, Any] = {}
    if not data.name.strip() or len(data.name) > 200:
        problems["name"] = _l("Skriv namnet (högst 200 tecken).")
    if data.role not in ROLES:
        problems["role"] = _l("Okänd roll: %(role)s. Välj en av %(roles)s.", role=data.role, roles=", ".join(ROLES))
    email = ""
    if data.email.strip():
        try:
            email = normalise_email(data.email)
        except IdentifierError:
            problems["email"] = _l("Ange en giltig e-postadress.")
    department = location = None
    if data.department:
        department = session.scalar(select(Department).where(Department.code == data.department))
        if department is None:
            problems["department"] = _l("Okänd förvaltning: %(code)s.", code=data.department)
    if data.location:
        location = session.scalar(select(Location).where(Location.code == data.location))
        if location is None:
            problems["location"] = _l("Okänd plats: %(code)s.", code=data.location)
    queues, unknown = _by_codes(session, Queue, data.queues)
    if unknown:
        problems["queues"] = _l("Okänd kö: %(codes)s.", codes=", ".join(unknown))
    services, unknown = _by_codes(session, Service, data.services)
    if unknown:
        problems["services"] = _l("Okänd tjänst: %(codes)s.", codes=", ".join(unknown))
    bad_languages = [code for code in data.languages if code not in LANGUAGES]  # the routing skills
    if bad_languages:
        problems["languages"] = _l("Okänt språk: %(codes)s.", codes=", ".join(bad_languages))
    if not isinstance(data.max_open_tickets, int) or not 0 <= data.max_open_tickets <= MAX_CAPACITY:
        problems["max_open_tickets"] = _l("Kapaciteten ska vara ett heltal från 0 till %(max)d.", max=MAX_CAPACITY)
    phone_identity = ""
    try:
        phone_identity = normalise_phone_identity(data.phone_identity)
    except AccountError as err:
        problems.update(err.problems)
    if problems:
        raise AccountError(problems)
    return _Resolved(department, location, queues, services, email, phone_identity)


def _apply(user: User, data: AccountFields, resolved: _Resolved) -> None:
    user.name = data.name.strip()
    user.role = data.role
    user.email = resolved.email
    user.department = resolved.department
    user.location = resolved.location
    user.queues = resolved.queues
    user.services = resolved.services
    user.languages = list(dict.fromkeys(data.languages))
    user.phone_identity = resolved.phone_identity
    user.max_open_tickets = data.max_open_tickets


def _other_active_admins(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count(User.id)).where(User.role == "admin", User.active.is_(True), User.id != user.id)
        )
        or 0
    )


def check_new_user(session: Session, username: str, data: AccountFields) -> _Resolved:
    """Raise AccountError naming every bad field of a new account (the CLI asks before the password prompt)."""
    username = username.strip().lower()
    problems: dict[str, Any] = {}
    if not USERNAME_RE.match(username):
        problems["username"] = _l("Användarnamnet ska ha 2–80 tecken: små bokstäver a–z, siffror och . _ @ -.")
    elif find_user(session, username) is not None:
        problems["username"] = _l("Användarnamnet %(username)s finns redan.", username=username)
    try:
        resolved = _resolve(session, data)
    except AccountError as err:
        raise AccountError({**problems, **err.problems}) from None
    if problems:
        raise AccountError(problems)
    return resolved


def create_user(
    session: Session, username: str, data: AccountFields, actor: Actor, at: datetime, password: str | None = None
) -> User:
    """A new account. Without a password it has none that works until a set-password link is used."""
    resolved = check_new_user(session, username, data)
    username = username.strip().lower()
    if password is not None:
        check_password(password, username)
    user = User(
        username=username,
        password_hash=hash_password(password) if password is not None else unusable_password(),
        created_at=at,
        presence_since=at,
    )
    _apply(user, data, resolved)
    session.add(user)
    session.flush()
    changes.record(session, "created", user, actor, at, changes.diff(None, changes.snapshot(user)))
    return user


def unusable_password() -> str:
    # Not a werkzeug hash: check_password_hash is False for every password.
    return "!unset:" + secrets.token_hex(16)


def update_user(session: Session, user: User, data: AccountFields, actor: Actor, at: datetime) -> dict[str, list[Any]]:
    """Change what an administrator sets; the changed fields, before → after."""
    resolved = _resolve(session, data)
    if user.role == "admin" and data.role != "admin" and user.active and _other_active_admins(session, user) == 0:
        raise AccountError(
            {"role": _l("%(username)s är den enda aktiva administratören och behåller rollen.", username=user.username)}
        )
    before = changes.snapshot(user)
    _apply(user, data, resolved)
    session.flush()
    changed = changes.diff(before, changes.snapshot(user))
    if changed:
        changes.record(session, "updated", user, actor, at, changed)
    return changed


def deactivate_user(session: Session, user: User, actor: Actor, at: datetime) -> int:
    """The user can no longer sign in; every session of theirs ends. How many ended."""
    if not user.active:
        raise AccountError({"": _l("%(username)s är redan avstängd.", username=user.username)})
    if actor.user_id == user.id:
        raise AccountError({"": _l("Du kan inte stänga av ditt eget konto.")})
    if user.role == "admin" and _other_active_admins(session, user) == 0:
        raise AccountError(
            {"": _l("%(username)s är den enda aktiva administratören och kan inte stängas av.", username=user.username)}
        )
    ended = deactivate(session, user, at, actor.client)
    changes.record(session, "deactivated", user, actor, at, {"active": [True, False]})
    return ended


def reactivate_user(session: Session, user: User, actor: Actor, at: datetime) -> None:
    if user.active:
        raise AccountError({"": _l("%(username)s är redan aktiv.", username=user.username)})
    user.active = True
    changes.record(session, "reactivated", user, actor, at, {"active": [False, True]})


def reset_two_factor(session: Session, user: User, actor: Actor, at: datetime) -> bool:
    """Remove the user's authenticator and recovery codes (a lost phone); whether there was one."""
    had = two_factor.reset(session, user, at, actor.client, by=actor.name)
    changes.record(session, "two_factor_reset", user, actor, at, {"two_factor": [had, False]})
    return had


def set_password(session: Session, user: User, password: str, actor: Actor, at: datetime) -> int:
    """At the command line only (the operator is the user, or bootstraps them): the policy
    applies; every session ends. How many ended."""
    ended = change_password(session, user, password, at, actor.client)
    changes.record(session, "password_set", user, actor, at)
    return ended


def link_lifetime(config: Mapping[str, Any], purpose: str) -> timedelta:
    key = "PASSWORD_LINK_WELCOME_HOURS" if purpose == "welcome" else "PASSWORD_LINK_RESET_HOURS"
    return timedelta(hours=config[key])


def issue_link(
    session: Session, user: User, purpose: str, actor: Actor, at: datetime, config: Mapping[str, Any]
) -> str:
    """A one-time set-password link (absolute URL); the log says one was made, never the token."""
    if not user.active:
        raise AccountError({"": _l("%(username)s är avstängd. Återaktivera kontot först.", username=user.username)})
    lifetime = link_lifetime(config, purpose)
    token = links.issue(session, user, purpose, at, lifetime)
    changes.record(
        session,
        "link_issued",
        user,
        actor,
        at,
        {"link": [None, f"{purpose}, {int(lifetime.total_seconds() // 3600)} h"]},
    )
    return links.url(config["PUBLIC_BASE_URL"], token)


EMAIL_SUBJECT = {
    "welcome": "Ditt konto i Kontaktcenter / Your Kontaktcenter account",
    "reset": "Välj ett nytt lösenord i Kontaktcenter / Choose a new Kontaktcenter password",
}


def email_link(
    session: Session, user: User, purpose: str, actor: Actor, at: datetime, config: Mapping[str, Any]
) -> str:
    """Issue a link and e-mail it to the user (through notify's SMTP transport); the address it went to."""
    if not user.email:
        raise AccountError(
            {"email": _l("%(username)s har ingen e-postadress att skicka länken till.", username=user.username)}
        )
    url = issue_link(session, user, purpose, actor, at, config)
    hours = int(link_lifetime(config, purpose).total_seconds() // 3600)
    body = (
        f"Hej {user.name}!\n\n"
        f"Välj lösenord för ditt konto {user.username} i Kontaktcenter med den här länken. "
        f"Den fungerar en gång och i {hours} timmar:\n\n{url}\n\n"
        "Om du inte väntade dig det här brevet: gör ingenting, och säg till din administratör.\n\n"
        f"Choose the password of your Kontaktcenter account {user.username} with the link above. "
        f"It works once and for {hours} hours. If you did not expect this message, do nothing and tell your administrator.\n"
    )
    send_email(user.email, EMAIL_SUBJECT[purpose], body)
    return user.email


def users(session: Session, *, role: str = "", department: str = "", active: bool | None = None) -> list[User]:
    """Accounts for the list page and `users list`, by username."""
    stmt = select(User).order_by(User.username)
    if role:
        stmt = stmt.where(User.role == role)
    if department:
        stmt = stmt.join(Department, Department.id == User.department_id).where(Department.code == department)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    return list(session.scalars(stmt))


def now() -> datetime:
    """The clock account changes are recorded by (the sessions' one, which tests set)."""
    return sessions.now()
