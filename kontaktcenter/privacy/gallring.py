"""Gallring: each service's retention rule applied to closed tickets, set-based.

A ticket is due when it is resolved (closed), its service's retention period has passed
since `resolved_at`, it carries no staff hold (`retention_hold`), and gallring has not
emptied it yet (`gallrad_at`). Open and escalated-but-unresolved tickets are never due.

What stays, so that every METRICS.md figure of a past period is unchanged (the engine
reads only these): the contact's channel, service, queue, location, language, needs,
times, outcome, wait_seconds, contact reason, external_id and provider_sid (idempotency
of imports and Twilio retries; neither is personal data); the ticket's status, service, queue,
resolution, escalation, times; each event's kind, time and actor, and the values of
events whose values are codes (KEEP_VALUE_KINDS).

What goes: names, phone numbers, e-mail addresses, personnummer, imported citizen keys, subjects, free text,
message bodies and recipients, reply addresses and receipt codes, event values and
details that may hold personal data, escalation notes, routing attributes, Open311
addresses and device ids. With `anonymise` those rows stay, emptied; with `delete`
the rows that are only personal data (messages, escalation notes, routing decisions,
Open311 details) are deleted, and the contact, ticket and event rows the figures need
stay as the same anonymised skeleton. The access log is kept (its own period): its
rows keep their ticket, which no longer holds personal data.

Contacts without a ticket (calls dropped in the IVR) hold a phone number too: they go
under their service's rule or, without a service, DEFAULT_RULE, counted from when they ended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Text, and_, case, cast, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from ..casework.models import Escalation
from ..channels.open311.models import Open311Details
from ..contacts.models import Contact
from ..directory.models import Service
from ..metrics.dirty import mark_contacts
from ..routing.models import RoutingDecision
from ..tickets.models import Message, Ticket, TicketEvent
from ..vocabulary import RETENTION_ACTIONS
from ..worktime.periods import Period, parse_period
from .models import GallringRecord

DEFAULT_RULE = "P1Y"  # contacts with neither ticket nor service (IVR drops)
NO_SERVICE = "-"
# A contact's personal data, emptied: every identifier and the free text.
EMPTY_CONTACT = {
    "citizen_name": "",
    "citizen_phone": None,
    "citizen_email": None,
    "citizen_personnummer": None,
    "citizen_key": None,
    "subject": "",
    "text": "",
}
# Ticket id ranges per statement: bounded transactions and lock sets on a million rows.
BATCH = 20_000
# Events whose from/to values are codes (statuses, queues, resolutions, department codes,
# import ids), kept; every other event's values and every event's detail are emptied.
KEEP_VALUE_KINDS = (
    "created",
    "status",
    "open",
    "waiting",
    "resolved",
    "resolution",
    "reopened",
    "escalated",
    "escalation_accepted",
    "imported",
    "priority",
    "kind",
    "routed",
    "routing",
    "sla_breached",
    "assigned",
)


class GallringError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    service_id: int | None
    service_code: str
    period: Period
    action: str
    cutoff: datetime  # closed at or before this → due

    @property
    def text(self) -> str:
        return f"{self.period.text} {self.action}"


@dataclass
class Planned:
    rule: Rule
    tickets: int = 0
    contacts: int = 0


def rules(session: Session, now: datetime) -> list[Rule]:
    """Every service's rule at `now`, and the rule for contacts without a service; a
    malformed period stops gallring with the service named (nothing is half-applied)."""
    out = []
    for service in session.scalars(select(Service).order_by(Service.code)):
        try:
            period = parse_period(service.retention_period)
        except ValueError as exc:
            raise GallringError(f"{service.code}: {exc}") from exc
        if service.retention_action not in RETENTION_ACTIONS:
            raise GallringError(f"{service.code}: action must be delete or anonymise, not {service.retention_action!r}")
        out.append(Rule(service.id, service.code, period, service.retention_action, period.before(now)))
    period = parse_period(DEFAULT_RULE)
    out.append(Rule(None, NO_SERVICE, period, "anonymise", period.before(now)))
    return out


def _ticket_due(rule: Rule):
    return and_(
        Ticket.service_id == rule.service_id,
        Ticket.status == "resolved",
        Ticket.resolved_at <= rule.cutoff,
        Ticket.retention_hold == "",
        Ticket.gallrad_at.is_(None),
    )


def _holds_personal_data():
    c = Contact
    return or_(
        c.citizen_name != "",
        c.citizen_phone.is_not(None),
        c.citizen_email.is_not(None),
        c.citizen_personnummer.is_not(None),
        c.citizen_key.is_not(None),
        c.subject != "",
        c.text != "",
    )


def _orphan_due(rule: Rule):
    service = Contact.service_id.is_(None) if rule.service_id is None else Contact.service_id == rule.service_id
    return and_(
        Contact.ticket_id.is_(None),
        Contact.awaiting_routing.is_(False),  # still to be routed: not closed
        service,
        func.coalesce(Contact.ended_at, Contact.arrived_at) <= rule.cutoff,
        _holds_personal_data(),
    )


def plan(session: Session, now: datetime) -> list[Planned]:
    """What gallring at `now` would do, per rule: tickets and contacts due (the dry run)."""
    planned = {r.service_id: Planned(r) for r in rules(session, now)}
    for p in planned.values():
        if p.rule.service_id is not None:
            due = select(Ticket.id).where(_ticket_due(p.rule))
            p.tickets = session.scalar(select(func.count()).select_from(due.subquery())) or 0
            if p.tickets:
                p.contacts = (
                    session.scalar(select(func.count()).select_from(Contact).where(Contact.ticket_id.in_(due))) or 0
                )
        p.contacts += session.scalar(select(func.count()).select_from(Contact).where(_orphan_due(p.rule))) or 0
    return [p for p in planned.values() if p.tickets or p.contacts]


def _any_due(rules_: list[Rule], lo: int, hi: int):
    return and_(Ticket.id >= lo, Ticket.id < hi, or_(*(_ticket_due(r) for r in rules_)))


def _empty_json(value):
    return literal(value, JSON)


def _apply_batch(session: Session, rules_: list[Rule], action: str, lo: int, hi: int, now: datetime) -> None:
    """One id range of the tickets due under rules with `action`. The tickets first: that
    UPDATE decides (and row-locks) which are gallrad, so a hold set meanwhile either wins
    entirely or waits; the dependents then follow the tickets marked at this `now`."""
    session.execute(
        update(Ticket)
        .where(_any_due(rules_, lo, hi))
        .values(subject="", reply_to="", receipt_code=None, gallrad_at=now),
        execution_options={"synchronize_session": False},
    )
    # Only this action's services: the other action's pass marks tickets at the same `now`.
    services = [r.service_id for r in rules_]
    due = (
        select(Ticket.id)
        .where(Ticket.id >= lo, Ticket.id < hi, Ticket.gallrad_at == now, Ticket.service_id.in_(services))
        .scalar_subquery()
    )
    empty_dependents(session, due, action)


def empty_tickets(session: Session, ticket_ids: list[int], action: str, now: datetime) -> None:
    """Empty these tickets' personal data as gallring does (radering, privacy/rights.py):
    the same statements, so an erased ticket keeps exactly what a gallrad one keeps."""
    if action not in RETENTION_ACTIONS:
        raise GallringError(f"action must be delete or anonymise, not {action!r}")
    session.execute(
        update(Ticket)
        .where(Ticket.id.in_(ticket_ids))
        .values(subject="", reply_to="", receipt_code=None, gallrad_at=now),
        execution_options={"synchronize_session": False},
    )
    empty_dependents(session, select(Ticket.id).where(Ticket.id.in_(ticket_ids)).scalar_subquery(), action)


def empty_dependents(session: Session, due, action: str) -> None:
    """Everything personal hanging off the tickets in `due` (a scalar subquery of ids)."""
    contacts_of_due = select(Contact.id).where(Contact.ticket_id.in_(due)).scalar_subquery()
    # Without their identifiers the contacts no longer repeat: the days whose first-contact
    # resolution changes are marked for the rollups first, while the identifiers are there.
    mark_contacts(session, Contact.ticket_id.in_(due), identifiers_only=True)
    session.execute(
        update(Contact).where(Contact.ticket_id.in_(due)).values(**EMPTY_CONTACT),
        execution_options={"synchronize_session": False},
    )
    # One pass over the events: values of non-code kinds and every detail; rows with
    # nothing to empty (an import's code and empty detail) are not rewritten.
    coded = TicketEvent.kind.in_(KEEP_VALUE_KINDS)
    session.execute(
        update(TicketEvent)
        .where(TicketEvent.ticket_id.in_(due), or_(~coded, cast(TicketEvent.detail, Text) != "{}"))
        .values(
            from_value=case((coded, TicketEvent.from_value), else_=None),
            to_value=case((coded, TicketEvent.to_value), else_=None),
            detail=_empty_json({}),
        ),
        execution_options={"synchronize_session": False},
    )
    if action == "delete":
        for model, column in (
            (Message, Message.ticket_id),
            (Escalation, Escalation.ticket_id),
            (RoutingDecision, RoutingDecision.ticket_id),
        ):
            session.execute(delete(model).where(column.in_(due)), execution_options={"synchronize_session": False})
        session.execute(
            delete(Open311Details).where(Open311Details.contact_id.in_(contacts_of_due)),
            execution_options={"synchronize_session": False},
        )
    else:
        statements = [
            update(Message).where(Message.ticket_id.in_(due)).values(body="", recipient=""),
            update(Escalation)
            .where(Escalation.ticket_id.in_(due))
            .values(citizen_wants="", done_so_far="", how_to_reach="", return_reason=""),
            update(RoutingDecision)
            .where(RoutingDecision.ticket_id.in_(due))
            .values(attributes=_empty_json({}), trace=_empty_json([])),
            update(Open311Details)
            .where(Open311Details.contact_id.in_(contacts_of_due))
            .values(
                lat=None,
                long=None,
                address_string="",
                address_id="",
                zipcode="",
                device_id="",
                account_id="",
                media_url="",
                attributes=_empty_json({}),
            ),
        ]
        for stmt in statements:
            session.execute(stmt, execution_options={"synchronize_session": False})


def run(session: Session, now: datetime, *, after_batch: Callable[[], None] | None = None) -> list[Planned]:
    """Apply every rule at `now` and write one gallring record per rule that had rows due.

    Set-based: one UPDATE/DELETE per table per id range, never row by row. `after_batch`
    (the CLI commits there) keeps a large first run in short transactions; a run broken
    off is finished by the next, since what was done is no longer due.
    """
    done = plan(session, now)
    by_action: dict[str, list[Rule]] = {}
    for p in done:
        if p.rule.service_id is not None and p.tickets:
            by_action.setdefault(p.rule.action, []).append(p.rule)
    for action, rules_ in by_action.items():
        low, high = session.execute(
            select(func.min(Ticket.id), func.max(Ticket.id)).where(or_(*(_ticket_due(r) for r in rules_)))
        ).one()
        for lo in range(low, high + 1, BATCH):
            _apply_batch(session, rules_, action, lo, lo + BATCH, now)
            if after_batch:
                after_batch()
    for p in done:
        mark_contacts(session, _orphan_due(p.rule), identifiers_only=True)
        session.execute(
            update(Contact).where(_orphan_due(p.rule)).values(**EMPTY_CONTACT),
            execution_options={"synchronize_session": False},
        )
        session.add(
            GallringRecord(
                at=now,
                service_code=p.rule.service_code,
                rule=p.rule.period.text,
                action=p.rule.action,
                tickets=p.tickets,
                contacts=p.contacts,
            )
        )
    session.flush()
    if after_batch:
        after_batch()
    return done
