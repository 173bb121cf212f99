"""Where an incoming contact goes: an existing ticket it may join, or a new, routed one.

One order for every channel:

1. an explicit reference the sender may use: an e-mail whose subject cites a ticket,
   from an address that ticket's citizen already used on it;
2. an open thread of the same verified sender on the same channel (an SMS from the
   number of the sender's open SMS ticket);
3. that thread's ticket when it was resolved at most REOPEN_DAYS ago: joined and reopened;
4. a new ticket, routed.

Only the channel proves who sent a contact: the sender address of an e-mail, the number
of an SMS. What is typed into a form or an API call (phone, e-mail, personnummer) proves
nothing, and caller ID can be forged, so those contacts always make a new ticket; staff
see the citizen's other tickets they may read, and link a call by hand when the caller
confirms it (link_contact). An e-mail citing a ticket it may not join makes a new ticket
that mentions the cited one for staff; the cited ticket is not touched.

Whatever the channel, a joined ticket changes status by one rule (join): resolved →
reopened, waiting for the citizen → open, anything else as it was.

place() gives a whole batch of contacts their tickets (the intake worker's batch, or the
direct intake's batch of one) exactly as placing them one by one in order would: the
batch is cut into runs of contacts with no citizen identifier in common, so no contact of
a run continues, or is routed by, another of the same run (two SMS from one number: the
second starts the next run and joins the ticket the first made). In a run, one query finds
the sender threads of all its contacts; a joining contact takes join() here, and the new
tickets are written together (new_tickets.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from ..casework.models import Escalation
from ..contacts.models import PLACEMENTS, Contact
from ..defaults import defaults
from ..directory.models import User
from ..metrics.dirty import mark_tickets
from ..routing.service import latest_decision
from ..tickets.models import RELINK_OPTION, AccessLog, Message, Ticket, unrestricted
from ..tickets.service import TicketError, assign, record_event, reopen, reply_address, set_status
from ..tickets.sla import restart_first_response
from ..vocabulary import OPEN_STATUSES
from .new_tickets import write_new_tickets

# The contact's column that its channel vouches for: who sent it, as the channel saw it.
VERIFIED_SENDER = {"email": Contact.citizen_email, "sms": Contact.citizen_phone}
# Placements that tie a contact to its ticket's citizen (the opening contact, a proven
# join, a staff link): all of PLACEMENTS but "joined" (before proof was required).
PROVEN = tuple(p for p in PLACEMENTS if p != "joined")


@dataclass(frozen=True)
class PlacementRules:
    reopen_days: int
    # Days a channel's conversation stays one thread without a reference (0: never).
    thread_days: dict[str, int] | None = None

    def thread_window(self, channel: str) -> int:
        return (self.thread_days or {}).get(channel, 0)


def placement_rules() -> PlacementRules:
    """REOPEN_DAYS and SMS_THREAD_DAYS from the settings (default.toml's outside an app)."""
    config = current_app.config if has_app_context() else defaults()
    return PlacementRules(reopen_days=config["REOPEN_DAYS"], thread_days={"sms": config["SMS_THREAD_DAYS"]})


def place(
    session: Session,
    contacts: list[Contact],
    *,
    references: dict[Contact, str] | None = None,
    rules: PlacementRules | None = None,
) -> list[int]:
    """Give each contact its ticket by the order above, as one by one in the list's order;
    returns their tickets' ids. `references`: the ticket reference a contact cites."""
    rules = rules or placement_rules()
    references = references or {}
    placed: list[int] = []
    for run in independent_runs(contacts):
        placed += _place_run(session, run, references, rules)
    return placed


def independent_runs(contacts: list[Contact]) -> list[list[Contact]]:
    """The contacts in order, cut before each one that shares a citizen identifier (phone,
    e-mail, personnummer: what threads and routing's citizen history look at) with an
    earlier contact of its run."""
    runs: list[list[Contact]] = []
    seen: set[tuple[str, str]] = set()
    for contact in contacts:
        identifiers = {
            (name, value)
            for name in ("citizen_phone", "citizen_email", "citizen_personnummer")
            if (value := getattr(contact, name))
        }
        if not runs or identifiers & seen:
            runs.append([])
            seen = set()
        runs[-1].append(contact)
        seen |= identifiers
    return runs


def _place_run(
    session: Session, run: list[Contact], references: dict[Contact, str], rules: PlacementRules
) -> list[int]:
    threads = sender_threads(session, run, rules)
    placed: dict[Contact, int] = {}
    new: list[Contact] = []
    for contact in run:
        ticket = _existing(session, contact, references.get(contact), threads.get(contact), rules)
        if ticket is None:
            new.append(contact)
        else:
            placed[contact] = ticket.id
    if placed:
        session.flush()  # the joins, before the new tickets' statements
    placed.update(zip(new, write_new_tickets(session, new), strict=True))
    return [placed[contact] for contact in run]


def _existing(
    session: Session, contact: Contact, reference: str | None, thread: Ticket | None, rules: PlacementRules
) -> Ticket | None:
    """The existing ticket the contact joins (steps 1–3), joined; None: it makes a new one."""
    if reference:
        cited = session.scalar(select(Ticket).where(Ticket.reference == reference.upper()))
        if cited is not None:
            if may_join(session, contact, cited) and _joinable(cited, contact.arrived_at, rules):
                join(session, contact, cited, "reference")
                return cited
            # Not the citizen's, or too long ago: a new errand; staff who may read both see the link.
            contact.mentions_ticket = cited
    if thread is not None:
        join(session, contact, thread, "thread" if thread.is_open else "reopen")
        return thread
    return None


def verified_sender(contact: Contact) -> str | None:
    """The sender address the contact's channel vouches for (None: the channel proves nobody)."""
    column = VERIFIED_SENDER.get(contact.channel)
    return getattr(contact, column.key) if column is not None else None


def citizen_addresses(session: Session, ticket: Ticket, channel: str) -> set[str]:
    """The addresses of `channel`'s kind that the ticket's own citizen used on it (or staff set as its reply address)."""
    column = VERIFIED_SENDER[channel]
    used = set(
        session.scalars(
            select(column).where(Contact.ticket_id == ticket.id, Contact.placement.in_(PROVEN), column.is_not(None))
        )
    )
    if ticket.reply_to and ticket.reply_channel == ("email" if channel == "email" else "sms"):
        used.add(ticket.reply_to)
    return used


def may_join(session: Session, contact: Contact, ticket: Ticket) -> bool:
    """Whether the contact's channel proves it comes from the ticket's citizen."""
    sender = verified_sender(contact)
    return sender is not None and sender in citizen_addresses(session, ticket, contact.channel)


def _joinable(ticket: Ticket, at: datetime, rules: PlacementRules) -> bool:
    """Open, or resolved at most REOPEN_DAYS before `at`; never a restricted ticket (begränsning):
    no one works on it, so a new contact there would go unseen; it makes a new ticket instead."""
    if ticket.restricted:
        return False
    if ticket.is_open:
        return True
    return ticket.resolved_at is not None and at - timedelta(days=rules.reopen_days) <= ticket.resolved_at <= at


def sender_threads(session: Session, contacts: list[Contact], rules: PlacementRules) -> dict[Contact, Ticket]:
    """Each contact's verified sender's ticket on its channel that the contact continues:
    their open one with a contact within the channel's thread window, else one resolved
    within REOPEN_DAYS (newest first). None (left out) when the channel has no threads or
    proves nobody. One query per channel for all the contacts' senders."""
    threads: dict[Contact, Ticket] = {}
    by_channel: dict[str, list[Contact]] = {}
    for contact in contacts:
        if verified_sender(contact) is not None and rules.thread_window(contact.channel):
            by_channel.setdefault(contact.channel, []).append(contact)
    for channel, of_channel in by_channel.items():
        column = VERIFIED_SENDER[channel]
        days = timedelta(days=rules.thread_window(channel))
        reopen_days = timedelta(days=rules.reopen_days)
        earliest = min(c.arrived_at for c in of_channel)
        rows = session.execute(
            select(Ticket.id, Ticket.status, Ticket.resolved_at, Contact.arrived_at, column)
            .join(Contact, Contact.ticket_id == Ticket.id)
            .where(
                Contact.channel == channel,
                column.in_({verified_sender(c) for c in of_channel}),
                Contact.placement.in_(PROVEN),
                unrestricted(),
                Contact.arrived_at >= earliest - days,
                Contact.arrived_at <= max(c.arrived_at for c in of_channel),
                or_(Ticket.status.in_(OPEN_STATUSES), Ticket.resolved_at >= earliest - reopen_days),
            )
        ).all()
        for contact in of_channel:
            at, sender = contact.arrived_at, verified_sender(contact)
            candidates = [
                row
                for row in rows
                if row[4] == sender
                and at - days <= row.arrived_at <= at
                and (
                    row.status in OPEN_STATUSES or (row.resolved_at is not None and row.resolved_at >= at - reopen_days)
                )
            ]
            if not candidates:
                continue
            # Open first, then the latest contact, then the newest ticket.
            best = max(candidates, key=lambda row: (row.status in OPEN_STATUSES, row.arrived_at, row.id))
            ticket = session.get(Ticket, best.id)
            if ticket is not None and _joinable(ticket, at, rules):
                threads[contact] = ticket
    return threads


def join(session: Session, contact: Contact, ticket: Ticket, how: str, *, actor: User | None = None) -> None:
    """Attach `contact` to `ticket`, with the one status rule for every channel."""
    session.add(contact)
    contact.ticket = ticket
    contact.awaiting_routing = False  # a contact queued intake acknowledged is placed now
    contact.queue = ticket.queue
    contact.service = ticket.service  # the contact is about this errand
    contact.placement = how
    record_event(
        session, ticket, "contact_added", actor=actor, to_value=contact.channel, at=contact.arrived_at, placement=how
    )
    if ticket.status == "resolved":
        reopen(session, ticket, actor=actor, reason=f"new contact ({contact.channel})")
        record_event(session, ticket, "reopened", actor=actor, to_value=contact.channel, at=contact.arrived_at)
        if ticket.assignee is not None:
            # Back in the queue for whoever is available, not waiting for one person.
            assign(session, ticket, None, actor=actor, reason="reopened")
        ticket.sla_breached = False
        decision = latest_decision(session, ticket)
        restart_first_response(ticket, contact.arrived_at, decision.sla if decision is not None else None)
    elif ticket.status == "waiting_citizen":
        set_status(session, ticket, "open", actor=actor, reason=f"citizen answered ({contact.channel})")
    if ticket.reply_channel == "none" and contact.reply_channel != "none":
        # The ticket had no way to answer; its own citizen now gives one.
        ticket.reply_channel, ticket.reply_to = contact.reply_channel, reply_address(contact)


def link_contact(session: Session, source: Ticket, target: Ticket, user: User) -> Ticket:
    """Staff link a new ticket's one contact to the citizen's earlier ticket, on the
    citizen's word (a call, whose caller ID proves nothing). The contact joins `target`
    by the one status rule and `source` is removed, its reference noted on `target` and
    its access-log rows kept under `target`. Returns the target. Raises TicketError when
    the source holds more than the contact (then it is worked as a ticket of its own)."""
    if source.id == target.id:
        raise TicketError("Kontakten hör redan till det ärendet.")
    written = select(Message.id).where(Message.ticket_id == source.id, Message.automatic.is_(False))
    escalated = select(Escalation.id).where(Escalation.ticket_id == source.id)
    if len(source.contacts) != 1 or session.scalar(
        select(func.count()).select_from(written.union_all(escalated).subquery())
    ):
        raise TicketError(
            "Ärendet har redan fler kontakter, meddelanden eller en eskalering och kan inte kopplas. Skriv en anteckning i stället."
        )
    join(session, source.contacts[0], target, "linked", actor=user)
    record_event(session, target, "contact_linked", actor=user, from_value=source.reference, to_value=target.reference)
    _remove_empty(session, source, target)
    return target


def _remove_empty(session: Session, source: Ticket, target: Ticket) -> None:
    # The access log must outlive the ticket: who read the contact stays on record.
    session.flush()
    session.execute(
        update(AccessLog).where(AccessLog.ticket_id == source.id).values(ticket_id=target.id),
        execution_options={RELINK_OPTION: True},
    )
    session.execute(update(Contact).where(Contact.mentions_ticket_id == source.id).values(mentions_ticket_id=target.id))
    mark_tickets(session, Ticket.id == source.id)  # one ticket fewer on its day
    session.execute(delete(Ticket).where(Ticket.id == source.id))
    session.expire(target)
    session.expunge(source)
