"""Routing a contact: the rule set in force (reloaded on change), attributes, decision, agent."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import any_, bindparam, exists, func, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..contacts.models import Contact
from ..database import run_statement, utcnow
from ..directory.models import Department, Location, Queue, Service, User, UserLanguage, user_queues, user_services
from ..tickets.models import Ticket, unrestricted
from ..tickets.service import assign, record_event
from ..vocabulary import LIVE_CHANNELS, OPEN_STATUSES, WEEKDAYS
from ..worktime.calendar import STOCKHOLM, WorkCalendar, current_calendar, department_of
from .engine import (
    Decision,
    Problem,
    Rule,
    RuleSet,
    RuleSetError,
    Target,
    Vocabulary,
    content_version,
    decide,
    load_rules,
    rule_files,
)
from .models import RoutingDecision, RuleSetRefusal

log = logging.getLogger(__name__)
EXTENSION_KEY = "kontaktcenter.rules"


# -- the rule set in force -------------------------------------------------------------


class RulesInForce:
    """One process's view of routing_rules/: the valid set in force and the last refusal.

    The directory is checked on every contact, so a change takes effect on the next
    contact in every worker: its files' names, sizes and modification times, and their
    content hash only when one of those changed (hashing every file for every contact cost
    more than routing it). An invalid change is refused (logged, stored once in
    ruleset_refusals) and the set in force keeps serving.
    """

    def __init__(self, directory: str, fallback_queue: str):
        self.directory = directory
        self.fallback_queue = fallback_queue
        self.ruleset: RuleSet | None = None
        self.loaded_at: datetime | None = None
        self.refused_version: str | None = None
        self.refused_problems: list[Problem | str] = []
        self._lock = threading.Lock()
        self._stamp: tuple | None = None  # the files as last hashed, and their version
        self._stamped_version = ""

    def _version(self) -> str:
        try:
            stamp = tuple(
                (p.name, s.st_size, s.st_mtime_ns, s.st_ino) for p in rule_files(self.directory) for s in [p.stat()]
            )
        except OSError:  # a file went while we looked: hash what is there now
            stamp = None
        # A file changed within the filesystem clock's last ticks may change again under the
        # same timestamp and size: hashed until it has been quiet for a moment.
        settled = stamp is not None and all(time.time_ns() - mtime > 2_000_000_000 for _n, _s, mtime, _i in stamp)
        if not settled or stamp != self._stamp:
            self._stamped_version, self._stamp = content_version(self.directory), stamp
        return self._stamped_version

    def get(self, session: Session) -> RuleSet:
        version = self._version()
        current = self.ruleset
        if current is not None and current.version == version:
            # The files are back to the set in force: an earlier refusal no longer applies.
            self.refused_version = None
            return current
        if version == self.refused_version:
            return current or self._fallback()
        with self._lock:
            if self.ruleset is not None and self.ruleset.version == version:
                return self.ruleset
            try:
                ruleset = load_rules(self.directory, vocabulary_from_db(session))
            except RuleSetError as exc:
                self._refuse(session, version, exc.problems)
                return self.ruleset or self._fallback()
            previous = self.ruleset.version if self.ruleset else None
            self.ruleset, self.loaded_at = ruleset, utcnow()
            log.info("routing rules %s in force (%d rules, was %s)", ruleset.version, len(ruleset.rules), previous)
            return ruleset

    @property
    def is_fallback(self) -> bool:
        return self.ruleset is None

    def _refuse(self, session: Session, version: str, problems: list[Problem | str]) -> None:
        self.refused_version, self.refused_problems = version, problems
        text = "\n".join(str(p) for p in problems)
        log.error(
            "routing rules in %s (version %s) refused; %s keeps serving:\n%s",
            self.directory,
            version,
            self.ruleset.version if self.ruleset else "the fallback rule",
            text,
        )
        if session.scalar(select(RuleSetRefusal.id).where(RuleSetRefusal.version == version)) is not None:
            return
        try:
            # A savepoint: another worker may record the same refusal first (unique version).
            with session.begin_nested():
                session.add(RuleSetRefusal(version=version, errors=text, directory=self.directory))
        except IntegrityError:
            pass

    def _fallback(self) -> RuleSet:
        """Nothing valid was ever loaded: route everything to the first line rather than lose it."""
        log.critical("no valid routing rules in %s: every contact goes to %s", self.directory, self.fallback_queue)
        rule = load_rules_fallback(self.fallback_queue)
        return RuleSet("fallback", (rule,), self.directory, (), frozenset([self.fallback_queue]))


def load_rules_fallback(queue: str) -> Rule:
    import rule_engine

    from .engine import CONTEXT

    compiled = rule_engine.Rule("true", context=CONTEXT)
    return Rule("fallback", "true", (Target(queue),), None, "(built in)", 0, compiled=compiled)


def rules_state() -> RulesInForce:
    """The current app's RulesInForce (a new one when RULES_DIR changed)."""
    directory = str(Path(current_app.config["RULES_DIR"]))
    state = current_app.extensions.get(EXTENSION_KEY)
    if state is None or state.directory != directory:
        fallback = current_app.config["routing"]["fallback_queue"]
        state = current_app.extensions[EXTENSION_KEY] = RulesInForce(directory, fallback)
    return state


def ruleset_in_force(session: Session) -> RuleSet:
    return rules_state().get(session)


def vocabulary_from_db(session: Session) -> Vocabulary | None:
    """The directory's codes, for validating rules; None when the database has no queues yet."""
    queues = frozenset(session.scalars(select(Queue.code).where(Queue.active.is_(True))))
    if not queues:
        return None
    return Vocabulary(
        queues=queues,
        services=frozenset(session.scalars(select(Service.code))),
        departments=frozenset(session.scalars(select(Department.code))),
        locations=frozenset(session.scalars(select(Location.code))),
    )


def last_refusal(session: Session) -> RuleSetRefusal | None:
    return session.scalar(select(RuleSetRefusal).order_by(RuleSetRefusal.at.desc(), RuleSetRefusal.id.desc()))


# -- attributes ------------------------------------------------------------------------


def contact_attributes(
    session: Session,
    contact: Contact,
    *,
    calendar: WorkCalendar | None = None,
    queues: frozenset[str] | None = None,
    history: CitizenHistory | None = None,
) -> dict[str, Any]:
    """What the rules see of a contact, as of its arrival (so a backtest sees the past as it was).
    `history`: the contact's citizen_histories, when read for a batch of contacts at once."""
    calendar = calendar or current_calendar()
    service = contact.service
    at = contact.arrived_at or utcnow()
    local = at.astimezone(STOCKHOLM)
    day = local.date()
    known, open_queue = history if history is not None else citizen_histories(session, [contact])[contact]
    if queues is None:
        queues = frozenset(session.scalars(select(Queue.code).where(Queue.active.is_(True))))
    hours_code = service.code if service is not None and calendar.has_own_hours(service.code) else "default"
    # working_day/eve follow the service's department's klämdagar; open_hours stays the
    # contact center's own (its first line answers on a department's klämdag).
    department = department_of(service)
    location = contact.location
    return {
        "channel": contact.channel,
        "service": service.code if service else "",
        "department": service.department.code if service else "",
        "confidential": bool(service and service.confidential),
        "language": contact.language or "sv",
        "needs": tuple(contact.needs),
        "interpreter_language": contact.interpreter_language or "",
        "location": location.code if location else "",
        "location_kind": location.kind if location else "",
        "text": "\n".join(part for part in (contact.subject, contact.text) if part),
        "identified": bool(contact.citizen_personnummer),
        "citizen_known": known,
        "open_ticket": open_queue is not None,
        "open_ticket_queue": open_queue or "",
        "mentions_ticket": contact.mentions_ticket_id is not None or contact.mentions_ticket is not None,
        "arrived_at": local,
        "weekday": WEEKDAYS[local.weekday()],
        "local_time": local.strftime("%H:%M"),
        "local_date": day.isoformat(),
        "working_day": calendar.is_working_day(day, department),
        "eve": calendar.is_eve(day, department),
        "open_hours": calendar.is_open(hours_code, at),
        "queue_open": {code: calendar.is_open(code, at) for code in sorted(queues)},
    }


class TicketSeen(NamedTuple):
    """What routing reads of a citizen's earlier ticket."""

    id: int
    status: str
    resolved_at: datetime | None
    first_arrived_at: datetime
    service_id: int | None
    queue_code: str


# Whether the citizen is known, and the queue of their open ticket on the service (None: none).
CitizenHistory = tuple[bool, str | None]


def citizen_histories(session: Session, contacts: list[Contact]) -> dict[Contact, CitizenHistory]:
    """For each contact, as of its arrival: whether its citizen is known (an earlier contact
    of the same phone, e-mail or personnummer has a ticket), and the queue of the citizen's
    open ticket on the contact's service (the newest). One query for all the contacts."""
    histories: dict[Contact, CitizenHistory] = {contact: (False, None) for contact in contacts}
    identified = [contact for contact in contacts if any(getattr(contact, c.key) for c in IDENTIFYING)]
    if not identified:
        return histories
    values = [sorted({getattr(contact, column.key) for contact in identified} - {None}) for column in IDENTIFYING]
    params: dict[str, Any] = {
        f"{column.key}_{i}": value
        for column, listed in zip(IDENTIFYING, values, strict=True)
        for i, value in enumerate(listed)
    }
    params["latest"] = max(contact.arrived_at or utcnow() for contact in identified)
    query = _histories_query(tuple(len(listed) for listed in values))
    # (contact id, arrival, its identifiers, its ticket) of each earlier contact found
    earlier = [
        (row[0], row[1], row[2:5], TicketSeen(*row[5:])) for row in run_statement(session.connection(), query, params)
    ]
    for contact in identified:
        at = contact.arrived_at or utcnow()
        mine = [getattr(contact, column.key) for column in IDENTIFYING]
        tickets = {
            ticket.id: ticket
            for contact_id, arrived_at, theirs, ticket in earlier
            if arrived_at <= at
            and contact_id != contact.id
            and any(own is not None and own == other for own, other in zip(mine, theirs, strict=True))
        }
        if tickets:
            open_then = _open_then(contact, at, tickets.values())
            histories[contact] = (True, open_then.queue_code if open_then is not None else None)
    return histories


# The identifiers same_citizen matches on (contacts/models.py).
IDENTIFYING = (Contact.citizen_phone, Contact.citizen_email, Contact.citizen_personnummer)


@lru_cache(maxsize=64)
def _histories_query(counts: tuple[int, ...]):
    """citizen_histories' statement for `counts` values of each identifier (IDENTIFYING's
    order): the earlier contacts (id, arrived_at, the identifiers) that share any one of
    them, with what routing reads of their tickets (TicketSeen, last). One statement per
    count, built once: a batch of one always has the same few, so on PostgreSQL it goes
    to the driver prepared, with each value a parameter of its own. (With each identifier
    one array, the server planned it anew for every contact: a plan for an array of
    unknown length never looked cheaper to it than one for the array it was given.)"""
    listed = [
        column.in_([bindparam(f"{column.key}_{i}") for i in range(count)])
        for column, count in zip(IDENTIFYING, counts, strict=True)
        if count
    ]
    return (
        select(
            Contact.id,
            Contact.arrived_at,
            *IDENTIFYING,
            Ticket.id,
            Ticket.status,
            Ticket.resolved_at,
            Ticket.first_arrived_at,
            Ticket.service_id,
            Queue.code,
        )
        .join(Ticket, Ticket.id == Contact.ticket_id)
        .join(Queue, Queue.id == Ticket.queue_id)
        .where(or_(*listed), Contact.arrived_at <= bindparam("latest"))
    )


def _open_then(contact: Contact, at: datetime, tickets) -> TicketSeen | None:
    """The newest of the citizen's tickets on the contact's service that was open at `at`."""
    service_id = contact.service.id if contact.service is not None else contact.service_id
    open_then = [
        t
        for t in tickets
        if t.first_arrived_at <= at
        and (t.status in OPEN_STATUSES or (t.resolved_at is not None and t.resolved_at > at))
        and (service_id is None or t.service_id == service_id)
    ]
    if not open_then:
        return None
    ticket = max(open_then, key=lambda t: (t.first_arrived_at, t.id))
    # A ticket resolved before `at` is not open, even if reopened since.
    if ticket.status == "resolved" and ticket.resolved_at is not None and ticket.resolved_at <= at:
        return None
    return ticket


def attributes_json(attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes as stored in the decision record (JSON: times as ISO text, lists)."""
    out: dict[str, Any] = {}
    for name, value in attributes.items():
        if isinstance(value, datetime):
            value = value.isoformat(timespec="seconds")
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


# -- deciding and recording --------------------------------------------------------------


def route_contact(
    session: Session, contact: Contact, ruleset: RuleSet | None = None, history: CitizenHistory | None = None
) -> Decision:
    """Decide where a new contact's ticket goes, with the rule set in force (`ruleset` and
    `history`: read once for a batch of contacts, see intake/new_tickets.py)."""
    ruleset = ruleset or ruleset_in_force(session)
    attributes = contact_attributes(session, contact, queues=ruleset.queues, history=history)
    return decide(ruleset, attributes)


def record_decision(
    session: Session, ticket: Ticket, contact: Contact, decision: Decision, *, now: datetime | None = None
) -> RoutingDecision:
    """Store the decision with the ticket and start the ticket on the rule's route."""
    record = RoutingDecision(ticket=ticket, contact=contact, **decision_values(decision))
    session.add(record)
    ticket.route_step = 0
    ticket.route_step_due_at = route_step_due(decision, ticket.service, now or utcnow())
    # The SLA clocks are the ticket's (tickets/sla.py): the rule's `sla` is handed to them by the intake.
    return record


def decision_values(decision: Decision) -> dict[str, Any]:
    """The decision record's values (all but its ticket and contact): the one builder for
    record_decision and the intake's batch of new tickets (intake/new_tickets.py)."""
    return {
        "rule_id": decision.rule_id,
        "ruleset_version": decision.ruleset_version,
        "queue_code": decision.queue_code,
        "attributes": attributes_json(decision.attributes),
        "trace": list(decision.trace),
        "targets": [t.as_json() for t in decision.targets] or [{"queue": decision.queue_code, "timeout_minutes": None}],
        "priority": decision.priority,
        "skills": dict(decision.skills),
        "sla": dict(decision.sla),
    }


def route_step_due(decision: Decision, service: Service | None, now: datetime) -> datetime | None:
    """When the route's first target times out (None: it has no timeout)."""
    first = decision.targets[0] if decision.targets else None
    if first is None or first.timeout is None:
        return None
    return current_calendar().add_working_time(now, first.timeout, department_of(service))


def latest_decision(session: Session, ticket: Ticket) -> RoutingDecision | None:
    return session.scalar(
        select(RoutingDecision)
        .where(RoutingDecision.ticket_id == ticket.id)
        .order_by(RoutingDecision.id.desc())
        .limit(1)
    )


# -- agents ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirements:
    """What an agent needs to be offered a ticket."""

    language: str | None
    service: str | None


def requirements(skills: dict[str, Any], contact: Contact | None, ticket: Ticket) -> Requirements:
    wanted = skills.get("language", "contact")
    if wanted == "any":
        language = None
    elif wanted == "contact":
        if contact is None:
            language = None
        elif "interpreter" in contact.needs and contact.interpreter_language:
            language = contact.interpreter_language
        else:
            language = contact.language or "sv"
    else:
        language = wanted
    service_skill = skills.get("service", False)
    if service_skill is True:
        service = ticket.service.code if ticket.service else None
    elif isinstance(service_skill, str) and service_skill:
        service = service_skill
    else:
        service = None
    return Requirements(language, service)


def eligible_agents(session: Session, ticket: Ticket, needs: Requirements, *, limit: int = 20):
    """Agents who may take the ticket now, best first: (user id, open tickets) pairs.

    Member of the ticket's queue, active, present (available), under capacity, with the
    required language and service skills; least loaded first, then longest idle. Their ids
    only: the one offered the ticket is loaded (readable_agent), not every candidate.
    """
    query = _eligible_query(session.get_bind().dialect.name, bool(needs.language), bool(needs.service))
    queue_id = ticket.queue.id if ticket.queue is not None else ticket.queue_id
    params = {"queue_id": queue_id, "language": needs.language, "service_code": needs.service, "limit": limit}
    return run_statement(session.connection(), query, params).fetchall()


@cache
def _eligible_query(dialect: str, language: bool, service: bool):
    """eligible_agents' statement, built once per kind (every intake asks it; building it
    costs more than running it)."""
    # On PostgreSQL one array, not a list of values, so the statement can go to the driver as is.
    is_open = (
        Ticket.status == any_(postgresql.array(OPEN_STATUSES))
        if dialect == "postgresql"
        else Ticket.status.in_(OPEN_STATUSES)
    )
    # Counted for the candidates only, not for every assignee of every open ticket.
    open_count = (
        select(func.count(Ticket.id)).where(Ticket.assignee_id == User.id, is_open).correlate(User).scalar_subquery()
    )
    query = (
        select(User.id, open_count)
        .join(user_queues, user_queues.c.user_id == User.id)
        .where(
            user_queues.c.queue_id == bindparam("queue_id"),
            User.active.is_(True),
            User.presence == "available",
            open_count < User.max_open_tickets,
        )
        .order_by(open_count, User.last_assigned_at.asc().nulls_first(), User.id)
        .limit(bindparam("limit"))
    )
    if language:
        query = query.where(
            exists().where(UserLanguage.user_id == User.id, UserLanguage.language == bindparam("language"))
        )
    if service:
        query = query.where(
            exists()
            .where(user_services.c.user_id == User.id, user_services.c.service_id == Service.id)
            .where(Service.code == bindparam("service_code"))
        )
    if dialect == "postgresql":
        # Two intakes at once must not both fill the same agent's last slot.
        query = query.with_for_update(of=User, skip_locked=True)
    return query


def select_agent(
    session: Session, ticket: Ticket, contact: Contact | None, decision: RoutingDecision | None = None
) -> User | None:
    """The agent to offer the ticket to, or None: then it waits in its queue."""
    decision = decision or latest_decision(session, ticket)
    needs = requirements(dict(decision.skills) if decision is not None else {}, contact, ticket)
    return readable_agent(session, ticket, eligible_agents(session, ticket, needs))


def readable_agent(session: Session, ticket: Ticket, eligible) -> User | None:
    """The first of the eligible agents (eligible_agents) who may read the ticket."""
    from ..tickets.access import can_read

    for user_id, _open in eligible:
        user = session.get(User, user_id)
        # A confidential ticket goes only to someone allowed to read it (OSL).
        if can_read(user, ticket):
            return user
    return None


def offer_to_agent(
    session: Session, ticket: Ticket, contact: Contact | None, decision: RoutingDecision | None = None
) -> User | None:
    """Assign the ticket to the best eligible agent (an event), or record that it waits."""
    if contact is not None and contact.channel in LIVE_CHANNELS:
        # Calls and visits are taken by whoever answers the phone or serves the visitor
        # (phone page, walk-in desk), so intake does not pre-assign them to someone else.
        return None
    # The agents' query needs only the ticket's queue, not the ticket in the database: a
    # new ticket is inserted with its contact, decision and events in one flush later.
    with session.no_autoflush:
        user = select_agent(session, ticket, contact, decision)
    if user is None:
        record_event(session, ticket, "waiting", to_value=ticket.queue.code, reason="no eligible agent")
        return None
    assign(session, ticket, user, reason="routing")
    # Once someone has it, the route's timeout no longer applies.
    ticket.route_step_due_at = None
    return user


# -- route timeouts ----------------------------------------------------------------------


def escalate_overdue_routes(session: Session, now: datetime | None = None) -> int:
    """Move tickets nobody took within their target's timeout to the route's next target.

    Meant as a scheduled job (every minute). Returns how many tickets moved. Tickets that
    were taken, or moved by hand to another queue, leave their route.
    """
    now = now or datetime.now(UTC)
    query = (
        select(Ticket)
        # A restricted ticket (begränsning) stays where it is.
        .where(Ticket.route_step_due_at.is_not(None), Ticket.route_step_due_at <= now, unrestricted())
        .order_by(Ticket.route_step_due_at, Ticket.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Ticket, skip_locked=True)
    moved = 0
    calendar = current_calendar()
    for ticket in session.scalars(query).all():
        decision = latest_decision(session, ticket)
        targets = [Target.from_json(t) for t in decision.targets] if decision is not None else []
        step = ticket.route_step
        on_route = (
            ticket.assignee_id is None
            and ticket.is_open
            and ticket.status != "escalated"
            and step + 1 < len(targets)
            and ticket.queue.code == targets[step].queue
        )
        if not on_route:
            ticket.route_step_due_at = None
            continue
        following = targets[step + 1]
        queue = session.scalar(select(Queue).where(Queue.code == following.queue, Queue.active.is_(True)))
        if queue is None:
            log.warning(
                "ticket %s: next route target %s is not an active queue; it stays", ticket.reference, following.queue
            )
            ticket.route_step_due_at = None
            continue
        previous = ticket.queue
        ticket.queue = queue
        ticket.route_step = step + 1
        ticket.confidential = ticket.confidential or queue.confidential
        ticket.route_step_due_at = (
            calendar.add_working_time(now, following.timeout, department_of(ticket.service))
            if following.timeout is not None
            else None
        )
        record_event(
            session,
            ticket,
            "rerouted",
            from_value=previous.code,
            to_value=queue.code,
            at=now,
            rule=decision.rule_id,
            step=step + 1,
            reason="timeout",
        )
        offer_to_agent(session, ticket, ticket.contacts[0] if ticket.contacts else None)
        moved += 1
    return moved
