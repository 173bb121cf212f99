"""The intake worker's step: place the contacts that queued intake acknowledged, oldest first."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session, selectinload

from ..contacts.models import Contact
from ..database import Reconnect, lost_connection, transient_error
from ..directory.models import Service
from .placement import place

log = logging.getLogger(__name__)

# Contacts awaiting routing, as the partial index ix_contacts_awaiting_routing is defined
# (WHERE awaiting_routing): PostgreSQL cannot use that index for "awaiting_routing IS true",
# and then reads every contact ever stored on each look.
WAITING = Contact.awaiting_routing


@dataclass
class RoutingBackoff:
    """Contacts that could not be routed, left alone for a while before the next try.

    Without it, one such contact (a rule naming a queue that is gone) would be the oldest
    in every batch: each batch would fail and be redone one contact at a time, and the
    failure would be logged on every look. The pause doubles from `first` up to `longest`
    seconds; the contact stays waiting and is tried again after it.
    """

    first: float = 10.0
    longest: float = 600.0
    clock: Callable[[], float] = time.monotonic
    _retry: dict[int, tuple[float, float]] = field(default_factory=dict)  # contact id → (retry at, pause)

    def resting(self) -> list[int]:
        now = self.clock()
        # Forget contacts not tried again long after their pause (routed by another worker):
        # one still failing is tried, and noted again, within moments of its retry time.
        self._retry = {cid: (at, pause) for cid, (at, pause) in self._retry.items() if now - at < self.longest}
        return [contact_id for contact_id, (at, _pause) in self._retry.items() if at > now]

    def failed(self, contact_id: int) -> float:
        """Note a failure; returns the pause before the next try."""
        pause = min(self._retry[contact_id][1] * 2, self.longest) if contact_id in self._retry else self.first
        self._retry[contact_id] = (self.clock() + pause, pause)
        return pause

    def routed(self, contact_id: int) -> None:
        self._retry.pop(contact_id, None)


def route_waiting(session: Session, *, limit: int = 50, backoff: RoutingBackoff | None = None) -> int:
    """Give tickets to up to `limit` contacts awaiting routing, oldest first; returns how many.

    On PostgreSQL several workers can run: each takes contacts the others have not locked.
    The batch is placed in one savepoint, set-based (placement.place, new_tickets.py); if a contact cannot be routed (a rule naming a
    queue that is gone), the batch is routed again one contact per savepoint, and the
    failing one is logged and stays waiting without holding up the rest (with `backoff`,
    it is left out of the next batches for a while). A lost connection is no contact's
    fault: it is raised at once, for the caller to roll back and try the batch again.
    """
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        # The contacts are durable since their acknowledgement; routing that a crash loses
        # before it reaches the disk is simply done again. So this commit need not wait for
        # the WAL flush that the intake's acknowledgements wait for.
        session.execute(text("SET LOCAL synchronous_commit = off"))
    query = waiting_batch(limit, backoff.resting() if backoff is not None else [], locked=postgresql)
    contacts = list(session.scalars(query))
    try:
        with session.begin_nested():
            _place_batch(session, contacts)
        return len(contacts)
    except Exception as exc:
        if lost_connection(exc):
            raise  # no contact is at fault: the caller rolls back and tries them all again later
        log.warning("a batch of %d waiting contacts failed; routing them one by one", len(contacts))
    routed = 0
    for contact in contacts:
        session.expire(contact)  # as stored: the batch's writes were rolled back
        try:
            with session.begin_nested():
                _place_batch(session, [contact])
        except Exception as exc:
            if lost_connection(exc):
                raise
            retry = f", tried again in {backoff.failed(contact.id):.0f} s" if backoff is not None else ""
            log.exception("contact %s could not be routed; it stays waiting%s", contact.id, retry)
            continue
        if backoff is not None:
            backoff.routed(contact.id)
        routed += 1
    return routed


def waiting_batch(limit: int, resting: list[int], *, locked: bool) -> Select:
    """The next batch of waiting contacts, oldest first, without those resting after a failure;
    `locked` (PostgreSQL): taken FOR UPDATE, skipping those another worker holds."""
    query = (
        select(Contact)
        .where(WAITING)
        .order_by(Contact.id)
        .limit(limit)
        # What routing reads of every contact, for the batch at once (not one lazy load per service).
        .options(selectinload(Contact.service).selectinload(Service.department), selectinload(Contact.location))
    )
    if resting:
        query = query.where(Contact.id.not_in(resting))
    return query.with_for_update(skip_locked=True) if locked else query


def oldest_waiting(session: Session) -> datetime | None:
    """When the contact that has waited longest for routing arrived (None: none waits)."""
    return session.scalar(select(Contact.arrived_at).where(WAITING).order_by(Contact.id).limit(1))


def _place_batch(session: Session, contacts: list[Contact]) -> None:
    place(session, contacts)


def route_batches(
    session: Session,
    *,
    batch: int = 50,
    stop: threading.Event | None = None,
    backoff: RoutingBackoff | None = None,
    give_way: Callable[[Session], bool] | None = None,
) -> Iterator[int]:
    """Route waiting contacts batch by batch, committing each batch and yielding how many it
    routed, until none is left that can be routed (or `stop` is set, or `give_way` says to
    wait before a batch)."""
    while stop is None or not stop.is_set():
        if give_way is not None and give_way(session):
            session.commit()
            return
        routed = route_waiting(session, limit=batch, backoff=backoff)
        session.commit()
        if not routed:
            return
        yield routed


def route_all_waiting(session: Session, **options: Any) -> int:
    """route_batches to the end; returns how many were routed."""
    return sum(route_batches(session, **options))


def keep_routing(
    session: Session,
    *,
    stop: threading.Event,
    idle: float,
    reconnect: Reconnect,
    batch: int = 50,
    **options: Any,
) -> int:
    """The intake worker's loop: route what waits, then look again after `idle` seconds, until
    `stop`; returns how many were routed.

    A batch that was not full emptied the backlog: the worker then waits `idle` seconds, so
    that what arrives meanwhile is routed as one batch. Looking again at once would route
    contacts a few at a time, each batch paying what a batch costs; and with several
    workers, each would take a share of those few.

    A lost database (a terminated backend, a restart) never ends it: the batch in hand is
    rolled back, so its contacts still wait and are routed, once, on a later try; the loop
    waits as `reconnect` says and goes on.
    """
    routed = 0
    while not stop.is_set():
        try:
            for count in route_batches(session, stop=stop, batch=batch, **options):
                routed += count
                reconnect.succeeded()  # a batch committed: the database is back
                if count < batch:
                    break  # committed (route_batches commits before it yields)
        except Exception as exc:
            if not transient_error(exc):
                raise
            session.rollback()
            stop.wait(reconnect.failed(exc))
            continue
        reconnect.succeeded()
        stop.wait(idle)
    return routed
