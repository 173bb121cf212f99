"""The demo: a Malmö-like directory, demo users and 90 days of realistic history."""

from __future__ import annotations

import os
import random
import secrets
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from .auth.service import hash_password
from .casework.escalation import accept
from .casework.models import Escalation, KnowledgeArticle
from .casework.sla import flag_breaches
from .contacts.models import Contact
from .database import utcnow
from .directory.catalogue import DEMO_USERS, malmo
from .directory.models import Department, Location, Queue, Service, User
from .directory.service import load_catalogue
from .errors import DomainError
from .history.write import Directory, HistoryRow, write_history
from .tickets.models import Message, Ticket
from .tickets.sla import start_accept_clock, start_clocks
from .vocabulary import LIVE_CHANNELS, OPEN_STATUSES
from .worktime.calendar import STOCKHOLM

CONTENT = Path(__file__).with_name("demo_content.toml")
# Contacts per weekday (Mon..Sun) and the hourly shape of a working day.
WEEKDAY_VOLUME = [420, 360, 330, 320, 280, 30, 20]
HOUR_WEIGHTS = {
    7: 2,
    8: 9,
    9: 14,
    10: 14,
    11: 11,
    12: 7,
    13: 11,
    14: 10,
    15: 8,
    16: 5,
    17: 3,
    18: 2,
    19: 2,
    20: 1,
    21: 1,
}
CHANNEL_WEIGHTS = {"phone": 45, "web": 20, "email": 9, "sms": 7, "walk_in": 14, "open311": 5}
LANGUAGE_WEIGHTS = {"sv": 78, "en": 7, "ar": 8, "so": 2, "fa": 2, "pl": 2, "bs": 1}
SERVICE_POPULARITY = {
    "allmant": 20,
    "forsorjningsstod": 14,
    "skolval": 9,
    "forskoleplats": 8,
    "bygglov": 6,
    "felanmalan-gata": 6,
    "parkeringstillstand": 4,
    "fardtjanst": 5,
    "hemtjanst": 6,
    "avfall": 5,
    "bibliotekskort": 3,
    "utskrift-hjalp": 5,
    "digital-hjalp": 4,
}


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def generate_history(end: date, days: int = 90, seed: int = 2026) -> Iterator[HistoryRow]:
    """Contacts for the `days` before `end`, with daily, hourly and channel patterns."""
    rng = random.Random(seed)
    directory = malmo()
    services = {code: (s.values["department"], s.values) for code, s in directory["services"].items()}
    walk_in_locations = [code for code, loc in directory["locations"].items() if loc.values["kind"] != "contact_center"]
    morning = datetime.combine(end, time(0), STOCKHOLM)  # the demo's "now": nothing after it has happened
    n = 0
    for offset in range(days, 0, -1):
        day = end - timedelta(days=offset)
        volume = int(WEEKDAY_VOLUME[day.weekday()] * rng.uniform(0.85, 1.15))
        for _ in range(volume):
            channel = _weighted(rng, CHANNEL_WEIGHTS)
            if day.weekday() >= 5 and channel in LIVE_CHANNELS:  # nobody answers at weekends
                channel = "web"
            walk_in = channel == "walk_in"
            popular = {c: w for c, w in SERVICE_POPULARITY.items() if services[c][1]["walk_in_topic"] == walk_in}
            other = [c for c, (_d, flags) in services.items() if flags["walk_in_topic"] == walk_in]
            code = _weighted(rng, popular) if rng.random() < 0.75 else rng.choice(other)
            if channel == "open311" and not services[code][1]["open311"]:
                code = rng.choice([c for c, (_d, f) in services.items() if f["open311"]])
            hour = int(_weighted(rng, {str(h): w for h, w in HOUR_WEIGHTS.items()}))
            arrived = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), STOCKHOLM)
            language = _weighted(rng, LANGUAGE_WEIGHTS)
            needs = []
            if language not in ("sv", "en") and rng.random() < 0.5:
                needs.append("interpreter")
            if rng.random() < 0.03:
                needs.append(rng.choice(["hearing", "vision", "easy_read"]))
            n += 1
            row = HistoryRow(
                external_id=f"demo-{seed}-{n}",
                channel=channel,
                service_code=code,
                arrived_at=arrived,
                language=language,
                needs=needs,
            )
            _outcome(rng, row, services[code][0], walk_in_locations)
            _settle(rng, row, morning)
            yield row


def _outcome(rng: random.Random, row: HistoryRow, department: str, walk_in_locations: list[str]) -> None:
    busy = 1.6 if row.arrived_at.weekday() == 0 and 9 <= row.arrived_at.hour <= 11 else 1.0
    if row.channel == "phone":
        r = rng.random()
        if r < 0.78 / busy:
            wait = rng.expovariate(1 / (70 * busy))
            row.outcome = "answered"
            row.answered_at = row.arrived_at + timedelta(seconds=wait)
            row.ended_at = row.answered_at + timedelta(seconds=rng.gauss(240, 80) if rng.random() < 0.9 else 600)
            row.ended_at = max(row.ended_at, row.answered_at + timedelta(seconds=30))
        elif r < 0.88:
            row.outcome = "callback_requested"
            row.ended_at = row.arrived_at + timedelta(seconds=rng.uniform(60, 400))
            if rng.random() < 0.85:
                row.callback_completed_at = row.ended_at + timedelta(minutes=rng.uniform(10, 240))
        else:
            row.outcome = "abandoned"
            row.ended_at = row.arrived_at + timedelta(seconds=rng.choice([rng.uniform(1, 5), rng.uniform(20, 500)]))
    elif row.channel == "walk_in":
        row.location_code = rng.choice(walk_in_locations)
        if rng.random() < 0.92:
            row.outcome = "served"
            row.answered_at = row.arrived_at + timedelta(minutes=rng.expovariate(1 / 8))
            row.ended_at = row.answered_at + timedelta(minutes=rng.uniform(4, 25))
        else:
            row.outcome = "left"
            row.ended_at = row.arrived_at + timedelta(minutes=rng.uniform(5, 40))
    else:
        hours = rng.expovariate(1 / 5) if rng.random() < 0.93 else rng.uniform(20, 60)
        row.first_response_at = row.arrived_at + timedelta(hours=hours)
    # Resolution: most at first contact, some escalated to the owning department.
    start = row.answered_at or row.first_response_at or row.ended_at or row.arrived_at
    if row.outcome in ("abandoned", "left"):
        return
    r = rng.random()
    if department != "serviceforvaltningen" and r < 0.25:
        row.escalated_to = department
        if rng.random() < 0.8:
            row.resolution = "department"
            row.resolved_at = start + timedelta(days=rng.uniform(1, 12))
    elif r < 0.82:
        row.resolution = "first_contact" if rng.random() < 0.8 else "kontaktcenter"
        row.resolved_at = start + timedelta(
            minutes=rng.uniform(1, 60) if row.resolution == "first_contact" else rng.expovariate(1 / 300)
        )


def _still_open(rng: random.Random, age_days: float) -> bool:
    """A real contact center works its backlog down: yesterday's unfinished errands are
    partly still open, older ones only the odd forgotten one (which breaches its SLA)."""
    share = 0.06 if age_days <= 1.5 else 0.03 if age_days <= 4 else 0.0004
    return rng.random() < share


# Departments whose demo caseworkers take escalations; the others' errands are taken and
# mostly finished by their own (unseen) staff within a day or two.
STAFFED = {user[3] for user in DEMO_USERS if user[2] == "caseworker"}


def _settle(rng: random.Random, row: HistoryRow, morning: datetime) -> None:
    """Bring the row's resolution up to the demo's morning: what is done by then is
    resolved or closed, what would happen after it has not happened yet."""
    if row.first_response_at and row.first_response_at >= morning:
        row.first_response_at = None
    if row.outcome in ("abandoned", "left"):
        # Nobody can act on a hung-up call or a visitor who left: closed, unresolved, as
        # the live phone closes it (channels/voice/calls.py).
        row.resolution, row.resolved_at = "unresolved", row.ended_at or row.arrived_at
        return
    if row.escalated_to and row.escalated_to not in STAFFED:
        # A department without demo caseworkers: its own (unseen) staff finish within the
        # day, so only the newest errands wait in its queue.
        done_at, resolution = row.arrived_at + timedelta(hours=rng.uniform(2, 20)), "department"
    elif row.resolved_at or _still_open(rng, (morning - row.arrived_at).total_seconds() / 86400):
        done_at, resolution = row.resolved_at, row.resolution
    elif row.escalated_to:
        # The caseworkers finish what is not recent; the rest waits in their inbox.
        done_at, resolution = row.arrived_at + timedelta(days=rng.uniform(0.5, 10)), "department"
    else:
        start = row.first_response_at or row.answered_at or row.arrived_at
        done_at, resolution = start + timedelta(hours=rng.uniform(1, 20)), "kontaktcenter"
    if done_at is None or done_at >= morning:
        row.resolved_at, row.resolution = None, "unresolved"
        return
    row.resolved_at, row.resolution = done_at, resolution
    # A written errand's answer is its first response.
    if row.channel not in LIVE_CHANNELS and row.first_response_at is None:
        row.first_response_at = done_at


class DemoRefused(DomainError):
    """`kontaktcenter demo` must not touch this installation; the message says why."""


def refuse_demo(session: Session, env: str) -> None:
    """Raise DemoRefused for a production configuration or a database with real users.

    Only reads: it runs before any migration, so it copes with a database of any age.
    """
    if env == "production":
        raise DemoRefused(
            "ENV=production: `kontaktcenter demo` refuses to run here, because it would add demo users and "
            "made-up history to a real installation. Set up a real installation with `kontaktcenter db upgrade`, "
            "`kontaktcenter directory load FILE.toml` and `kontaktcenter users create USERNAME --role admin` "
            "(README: Run it for real)."
        )
    tables = inspect(session.connection())
    if not tables.has_table("users"):
        return
    if "demo" in {c["name"] for c in tables.get_columns("users")}:
        foreign = list(session.scalars(select(User.username).where(User.demo.is_(False)).order_by(User.username)))
    else:
        # A database from before the demo marked its users: its users are the demo's
        # usernames with the demo's made-up addresses (migration 0017 marks them so).
        names = {u[0] for u in DEMO_USERS}
        rows = session.execute(text("SELECT username, email FROM users ORDER BY username"))
        foreign = [u for u, email in rows if u not in names or email != f"{u}@kontaktcenter.example"]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise DemoRefused(
            f"the database holds users the demo did not create ({shown}): `kontaktcenter demo` refuses to add "
            "demo users and history to it. Run the demo on its own database (unset DATABASE_URL for the "
            "embedded SQLite file under instance/)."
        )


def load_demo_users(session: Session, passwords: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """Create the demo users (marked as the demo's) with `passwords` (username → password).

    A demo user whose stored password is not the given one gets it, so the printed
    passwords always work (a database from before per-installation passwords).
    Returns (username, role, password) for printing.
    """
    printed = []
    for username, name, role, dept, loc, languages, queues in DEMO_USERS:
        password = passwords[username]
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(
                username=username,
                name=name,
                role=role,
                email=f"{username}@kontaktcenter.example",
                password_hash=hash_password(password),
                department=_by_code(session, Department, dept) if dept else None,
                location=_by_code(session, Location, loc) if loc else None,
                presence="available" if role in ("agent", "caseworker") else "offline",
                phone_identity=f"client:{username}",
                demo=True,
            )
            user.languages = languages
            user.queues = [_by_code(session, Queue, q) for q in queues]
            session.add(user)
        else:
            user.demo = True  # the demo's refusal check has recognised it as its own
            if not check_password_hash(user.password_hash, password):
                user.password_hash = hash_password(password)
        printed.append((username, role, password))
    session.flush()
    return printed


def _by_code(session: Session, model, code: str):
    item = session.scalar(select(model).where(model.code == code))
    if item is None:
        raise LookupError(f"no {model.__name__.lower()} with code {code!r}")
    return item


PASSWORDS_FILE = "demo_passwords.toml"  # noqa: S105 - a file name


def demo_passwords(instance: Path) -> dict[str, str]:
    """This installation's demo passwords: made at random once, kept in the instance
    folder (mode 0600) so every re-run prints and accepts the same ones."""
    path = instance / PASSWORDS_FILE
    known: dict[str, str] = {}
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise DemoRefused(f"{path} is open to other users (mode {mode:o}): run chmod 600 {path}")
        try:
            known = {k: v for k, v in tomllib.loads(path.read_text(encoding="utf-8")).items() if isinstance(v, str)}
        except tomllib.TOMLDecodeError as exc:
            raise DemoRefused(f"{path} is damaged ({exc}): delete it, and the next run makes new passwords") from None
    wanted = {username: known.get(username) or _new_password() for username, *_ in DEMO_USERS}
    if wanted != known:
        instance.mkdir(parents=True, exist_ok=True)
        fd, candidate = tempfile.mkstemp(dir=instance, prefix=f".{PASSWORDS_FILE}.")  # created 0600
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("# The demo users' passwords for this installation (kontaktcenter demo prints them).\n")
            fh.writelines(f'{username} = "{password}"\n' for username, password in wanted.items())
        os.replace(candidate, path)
    return wanted


def _new_password() -> str:
    # Always 16 characters of [A-Za-z0-9_-] (96 random bits): past the password policy's
    # minimum length, and far from any list of common passwords.
    return secrets.token_urlsafe(12)


def load_demo_staff(session: Session) -> None:
    """The switchboard directory's demo staff (partial: entries added on the page stay active)."""
    from .switchboard.staff_import import DEMO_STAFF, import_file

    report = import_file(session, DEMO_STAFF, full=False)
    if report.rejected:
        raise RuntimeError(f"{DEMO_STAFF}: {report.rejected[0]}")


def load_demo(
    session: Session, today: date, passwords: Mapping[str, str], days: int = 90
) -> list[tuple[str, str, str]]:
    """Load the directory, the demo users and (once) the history; returns printed users."""
    load_catalogue(session)
    users = load_demo_users(session, passwords)
    load_demo_staff(session)
    has_history = session.scalar(select(func.count()).select_from(Contact).where(Contact.external_id.like("demo-%")))
    if not has_history:
        directory = Directory(session)
        batch: list[HistoryRow] = []
        for row in generate_history(today, days):
            batch.append(row)
            if len(batch) >= 5000:
                write_history(session, batch, directory)
                batch = []
        write_history(session, batch, directory)
        content = tomllib.loads(CONTENT.read_text(encoding="utf-8"))
        open_the_morning(session, datetime.combine(today, time(0), STOCKHOLM), content["questions"])
        load_knowledge(session, content["knowledge"])
    return users


def open_the_morning(session: Session, morning: datetime, questions: Mapping[str, list[list[str]]]) -> None:
    """The demo's open errands as a real morning has them: what the citizens asked, the
    handovers of the escalated ones (the department's caseworker has taken those not from
    the last day), their SLA clocks, and the late ones flagged as breached."""
    rng = random.Random(morning.toordinal())
    now = max(morning, utcnow())  # the demo may start in the afternoon: as the SLA job would find it
    first_line = _by_code(session, Queue, "kc-forsta-linjen")
    agent = session.scalar(select(User).where(User.username == "agent"))
    caseworkers = {u.department_id: u for u in session.scalars(select(User).where(User.role == "caseworker"))}
    tickets = session.scalars(
        select(Ticket).where(Ticket.status.in_(OPEN_STATUSES)).order_by(Ticket.first_arrived_at)
    ).all()
    for ticket in tickets:
        contact = ticket.contacts[0]
        asked = questions.get(ticket.service.code) or questions["allmant"]
        subject, text_ = rng.choice(asked)
        if not ticket.subject:
            ticket.subject = contact.subject = subject
            contact.text = text_
        # The answer the history says was given: a written reply, or the call back.
        if answered_at := contact.first_response_at or contact.callback_completed_at:
            ticket.messages.append(
                Message(
                    kind="reply",
                    channel="phone" if contact.callback_completed_at else contact.channel,
                    body="Tack för att du hörde av dig. Vi har tagit emot frågan och återkommer när vi har svar.",
                    author_id=agent.id,
                    created_at=answered_at,
                )
            )
        start_clocks(ticket)
        if ticket.status != "escalated":
            continue
        escalated_at = contact.first_response_at or contact.answered_at or contact.arrived_at
        escalation = Escalation(
            ticket_id=ticket.id,
            department_id=ticket.queue.department_id,
            from_queue_id=first_line.id,
            to_queue_id=ticket.queue_id,
            citizen_wants=text_,
            done_so_far="Kontrollerat uppgifterna i ärendet; frågan kräver beslut av förvaltningen.",
            how_to_reach="Svara med ärendets svarskanal.",
            created_by_id=agent.id,
            created_at=escalated_at,
        )
        session.add(escalation)
        start_accept_clock(ticket, escalated_at)
        caseworker = caseworkers.get(escalation.department_id)
        accepted_at = escalated_at + timedelta(hours=rng.uniform(1, 30))
        if caseworker is not None and accepted_at < now:
            session.flush()
            accept(session, escalation, caseworker, now=accepted_at)
    session.flush()
    flag_breaches(session, now, notify=False)


def load_knowledge(session: Session, articles: list[Mapping[str, str]]) -> None:
    """The knowledge base's short answers for the main services (once)."""
    if session.scalar(select(func.count(KnowledgeArticle.id))):
        return
    services = {s.code: s for s in session.scalars(select(Service))}
    for article in articles:
        session.add(
            KnowledgeArticle(service=services[article["service"]], title=article["title"], body=article["body"])
        )
    session.flush()
