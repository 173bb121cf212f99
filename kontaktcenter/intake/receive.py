"""Receiving a contact from any channel: validate, store, and place it (placement.py),
at once (receive) or, in queued intake, for the intake worker (accept, accept_at_once)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, literal, select, true
from sqlalchemy.orm import Session

from ..contacts.models import Contact
from ..database import as_stored, complete_row, conflict_insert, db, run_statement, utcnow
from ..directory import cache as directory_cache
from ..directory.models import Location, Service
from ..tickets.models import Ticket
from .incoming import ContactError, IncomingContact, contact_values, refuse_nul, validated
from .placement import place


@dataclass
class Received:
    contact: Contact
    ticket: Ticket | None  # None while the contact awaits the intake worker
    created: bool  # False when a retry found the contact already stored


def receive(session: Session, incoming: IncomingContact, *, service: Service | None = None) -> Received:
    """Store a contact and place it on its ticket. Idempotent on provider_sid / external_id.

    The contact is stored as queued intake stores it (accept: one INSERT that a retry, or a
    parallel duplicate, meets on the unique keys) and then placed as the intake worker
    places its batches, in a batch of one: one implementation. `service` is the incoming
    service when the channel has it loaded already (not read again).
    """
    received = accept(session, incoming, service=service)
    if not received.created:
        return received
    contact = received.contact
    (ticket_id,) = place(session, [contact], references={contact: incoming.reference})
    # The new ticket is in the session as written (new_tickets.py), a joined one as loaded.
    return Received(contact, session.get(Ticket, ticket_id), created=True)


def accept(session: Session, incoming: IncomingContact, *, service: Service | None = None) -> Received:
    """Store a contact, awaiting routing (queued intake: the intake worker places it); same
    validation and idempotency as receive().

    Acknowledging then costs one insert, so a burst of contacts is taken in at once and
    placed in arrival order as the worker gets to them (worker.route_waiting).
    """
    refuse_nul(incoming)
    try:
        values = validated(session, incoming, service=service)
    except ContactError:
        # A retry of a contact accepted before the catalogue changed gets that contact.
        existing = stored(session, incoming)
        if existing is None:
            raise
        return Received(existing, existing.ticket, created=False)
    service, location = values.pop("service"), values.pop("location")
    row = _contact_row(values, service, location)
    # One statement: a retry, or a parallel duplicate, meets the unique key and inserts nothing.
    contact_id = session.connection().execute(_insert_contact(session.get_bind().dialect.name), row).scalar()
    if contact_id is None:
        existing = stored(session, incoming)
        if existing is None:
            raise LookupError(
                "the contact conflicts with a stored one that has neither its provider_sid nor its external_id"
            )
        return Received(existing, existing.ticket, created=False)
    return Received(_as_inserted(session, contact_id, row, service, location), None, created=True)


def receive_at_once(
    session: Session, incoming: IncomingContact, sender_sid: Select, sender_params: dict[str, Any]
) -> Received | None:
    """receive() for the usual case with its sender's check in the contact's INSERT (as
    accept_at_once, in the caller's transaction), then placed as receive() places it: one
    statement fewer. None when anything is unusual (a refused sender, an unknown service, a
    retry, a personnummer or a place to judge): nothing is stored, and receive() then says
    what is wrong or finds what is stored. Raises ContactError for input receive() refuses too."""
    if incoming.personnummer or incoming.location_code or not incoming.service_code:
        return None
    service = directory_cache.active_service(session, incoming.service_code)
    if service is None:
        return None
    inserted = accept_at_once(incoming, sender_sid, sender_params, session=session)
    if inserted is None:
        return None
    contact_id, values = inserted
    contact = _as_inserted(session, contact_id, _contact_row(values, service, None), service, None)
    (ticket_id,) = place(session, [contact], references={contact: incoming.reference})
    return Received(contact, session.get(Ticket, ticket_id), created=True)


def _contact_row(values: dict[str, Any], service: Service | None, location: Location | None) -> dict[str, Any]:
    """Every column of a new contact awaiting routing (what its INSERT writes)."""
    return complete_row(
        Contact,
        {
            **values,
            "service_id": service.id if service is not None else None,
            "location_id": location.id if location is not None else None,
            "awaiting_routing": True,
            "ticket_id": None,
        },
    )


def _as_inserted(
    session: Session, contact_id: int, row: dict[str, Any], service: Service | None, location: Location | None
) -> Contact:
    """The row as inserted, in the session without reading it back."""
    return as_stored(session, Contact(id=contact_id, **row), service=service, location=location)


def accept_at_once(
    incoming: IncomingContact, sender_sid: Select, sender_params: dict[str, Any], *, session: Session | None = None
) -> tuple[int, dict[str, Any]] | None:
    """accept() in one statement, outside any session: queued intake's usual case (with
    `session`, in its transaction: receive_at_once).

    `sender_sid` is a one-column select (with `sender_params`) that gives the contact's
    provider_sid when its sender may create contacts and no row otherwise (the API: an
    active token). The statement finds the active service too, so an unknown service, a
    refused sender or a retry (the unique provider_sid) stores nothing. Returns (the new
    contact's id, its values; with `session`, its provider_sid and created_at as stored too),
    or None when nothing was stored: the caller then takes
    accept()'s path, which answers with what is wrong or what is already stored. Raises
    ContactError for input that accept() refuses too.
    """
    values = contact_values(incoming)
    own = {name: value for name, value in values.items() if name != "provider_sid"}  # made by sender_sid, in SQL
    params = {**own, **sender_params, "service_code": incoming.service_code, "created_at": utcnow()}
    # Idempotent: the provider_sid is unique, so a second run after a commit whose answer the
    # broken connection lost inserts nothing and returns None (the full path then finds it).
    if session is None:
        statement = _insert_at_once(db.engine.dialect.name, tuple(own), sender_sid)
        contact_id = db.execute_alone(statement, params, idempotent=True)
        return (contact_id, values) if contact_id is not None else None
    statement = _insert_at_once(session.get_bind().dialect.name, tuple(own), sender_sid)
    inserted = run_statement(session.connection(), statement, params).fetchone()
    if inserted is None:
        return None
    contact_id, provider_sid = inserted
    return contact_id, {**values, "provider_sid": provider_sid, "created_at": params["created_at"]}


@cache
def _insert_contact(dialect: str):
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, built once (values come as parameters)."""
    return conflict_insert(dialect)(Contact.__table__).on_conflict_do_nothing().returning(Contact.id)


@cache
def _insert_at_once(dialect: str, own: tuple[str, ...], sender_sid: Select):
    """The statement of accept_at_once, built once per sender select (every value is a parameter)."""
    columns = Contact.__table__.c
    sender = sender_sid.subquery()
    chosen = (
        select(
            *(bindparam(n, type_=columns[n].type) for n in own),
            true(),
            Service.id,
            *sender.c,
            bindparam("created_at", type_=columns.created_at.type),
            literal(columns.callback_attempts.default.arg),
        )
        .select_from(sender)
        .join(Service, true())
        .where(  # one row at most from each: no join condition
            Service.code == bindparam("service_code"),
            Service.active.is_(True),
        )
    )
    into = [*own, "awaiting_routing", "service_id", "provider_sid", "created_at", "callback_attempts"]
    statement = conflict_insert(dialect)(Contact.__table__).from_select(into, chosen, include_defaults=False)
    return statement.on_conflict_do_nothing().returning(Contact.id, Contact.provider_sid)


def stored(session: Session, incoming: IncomingContact) -> Contact | None:
    """The contact a retry of `incoming` finds already stored (by provider_sid or external_id)."""
    if incoming.provider_sid:
        return session.scalar(select(Contact).where(Contact.provider_sid == incoming.provider_sid))
    if incoming.external_id:
        return session.scalar(select(Contact).where(Contact.external_id == incoming.external_id))
    return None
