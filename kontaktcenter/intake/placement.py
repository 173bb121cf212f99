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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from ..casework.models import Escalation
from ..contacts.models import PLACEMENTS, Contact
from ..defaults import defaults
from ..directory.models import Queue, User
from ..metrics.dirty import mark_tickets
from ..routing.service import latest_decision, offer_to_agent, record_decision, route_contact
from ..tickets.models import RELINK_OPTION, AccessLog, Message, Ticket, unrestricted
from ..tickets.service import TicketError, assign, create_ticket, record_event, reopen, reply_address, set_status
from ..tickets.sla import restart_first_response, start_clocks
from ..vocabulary import OPEN_STATUSES

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
    session: Session, contact: Contact, *, reference: str | None = None, rules: PlacementRules | None = None
) -> Ticket:
    """Give `contact` its ticket by the order above; returns the ticket."""
    rules = rules or placement_rules()
    if reference:
        cited = session.scalar(select(Ticket).where(Ticket.reference == reference.upper()))
        if cited is not None:
            if may_join(session, contact, cited) and _joinable(cited, contact.arrived_at, rules):
                join(session, contact, cited, "reference")
                return cited
            # Not the citizen's, or too long ago: a new errand; staff who may read both see the link.
            contact.mentions_ticket = cited
    thread = _sender_thread(session, contact, rules)
    if thread is not None:
        join(session, contact, thread, "thread" if thread.is_open else "reopen")
        return thread
    return new_ticket(session, contact)


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


def _sender_thread(session: Session, contact: Contact, rules: PlacementRules) -> Ticket | None:
    """The verified sender's ticket on this channel that the contact continues: their open
    one with a contact within the channel's thread window, else one resolved within
    REOPEN_DAYS (newest first); None when the channel has no threads or proves nobody."""
    sender = verified_sender(contact)
    days = rules.thread_window(contact.channel)
    if sender is None or not days:
        return None
    column = VERIFIED_SENDER[contact.channel]
    at = contact.arrived_at
    is_open = case((Ticket.status.in_(OPEN_STATUSES), 1), else_=0)
    candidates = (
        select(Ticket)
        .join(Contact, Contact.ticket_id == Ticket.id)
        .where(
            Contact.channel == contact.channel,
            column == sender,
            Contact.placement.in_(PROVEN),
            unrestricted(),
            Contact.arrived_at >= at - timedelta(days=days),
            Contact.arrived_at <= at,
            or_(Ticket.status.in_(OPEN_STATUSES), Ticket.resolved_at >= at - timedelta(days=rules.reopen_days)),
        )
        .order_by(is_open.desc(), Contact.arrived_at.desc(), Ticket.id.desc())
        .limit(1)
    )
    ticket = session.scalar(candidates)
    return ticket if ticket is not None and _joinable(ticket, at, rules) else None


def join(session: Session, contact: Contact, ticket: Ticket, how: str, *, actor: User | None = None) -> None:
    """Attach `contact` to `ticket`, with the one status rule for every channel."""
    session.add(contact)
    contact.ticket = ticket
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


def new_ticket(session: Session, contact: Contact) -> Ticket:
    """A new ticket for `contact`, routed by the rules, its clocks started, offered to an agent."""
    # The contact joins the session through its ticket, so it is inserted once, complete.
    decision = route_contact(session, contact)
    queue = session.scalar(select(Queue).where(Queue.code == decision.queue_code))
    if queue is None:
        raise LookupError(f"rule {decision.rule_id} routes to unknown queue {decision.queue_code}")
    contact.queue = queue
    contact.placement = "new"
    ticket = create_ticket(
        session,
        queue=queue,
        service=contact.service,
        first_arrived_at=contact.arrived_at,
        subject=contact.subject or (contact.text[:80] if contact.text else ""),
        priority=decision.priority if decision.priority is not None else 3,
        opened_by=contact,
    )
    contact.ticket = ticket
    record = record_decision(session, ticket, contact, decision)
    record_event(
        session, ticket, "routed", to_value=queue.code, rule=decision.rule_id, version=decision.ruleset_version
    )
    start_clocks(ticket, decision.sla)
    offer_to_agent(session, ticket, contact, record)
    return ticket


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
