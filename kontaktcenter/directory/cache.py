"""The catalogue every contact needs (its service with its department, its queue), as this
process last read it.

They change only when the directory is loaded (`kontaktcenter directory load`), so a
contact need not read them again: a copy kept per database is put into the request's
session without a SELECT (Session.merge without loading). A change flushed by this process
empties the copies at once, and again when its transaction ends (a rollback takes it back);
another process's `directory load` is seen within TTL (README: restart after a directory load).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, bindparam, event, inspect, select
from sqlalchemy.orm import Session, joinedload, lazyload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from .models import Department, Queue, Service

# Seconds a copy is used before it is read again: how long another process's `directory load`
# (a service made confidential, say) may go unseen here. Reading again costs one SELECT.
TTL = 10.0
CATALOGUE = (Service, Queue, Department)
_CHANGED = "kc_catalogue_changed"  # on a connection whose transaction flushed catalogue changes

# An active service with its department (which routing reads), not its heading (which it does not).
_ACTIVE_SERVICE = (
    select(Service)
    .where(Service.code == bindparam("code"), Service.active.is_(True))
    .options(joinedload(Service.department), lazyload(Service.group_heading))
)
_QUEUES = select(Queue).where(Queue.code.in_(bindparam("codes", expanding=True)))


@dataclass
class _Copies:
    read_at: float = field(default_factory=time.monotonic)
    services: dict[str, Service] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)


_copies: weakref.WeakKeyDictionary[Engine, _Copies] = weakref.WeakKeyDictionary()


def active_service(session: Session, code: str) -> Service | None:
    """The active service `code`, with its department; None if there is none."""
    copies = _of(session)
    kept = copies.services.get(code)
    if kept is not None:
        return session.merge(kept, load=False)
    service = session.scalar(_ACTIVE_SERVICE, {"code": code})
    if service is not None:
        copies.services[code] = _detached(service, department=_detached(service.department))
    return service


def queues(session: Session, codes: Iterable[str]) -> dict[str, Queue]:
    """The queues `codes` that exist, by code."""
    copies = _of(session)
    wanted = set(codes)
    found = {code: session.merge(copies.queues[code], load=False) for code in wanted & copies.queues.keys()}
    missing = sorted(wanted - found.keys())
    if missing:
        for queue in session.scalars(_QUEUES, {"codes": missing}):
            copies.queues[queue.code] = _detached(queue)
            found[queue.code] = queue
    return found


def _of(session: Session) -> _Copies:
    engine = session.get_bind().engine
    copies = _copies.get(engine)
    if copies is None or time.monotonic() - copies.read_at > TTL:
        copies = _copies[engine] = _Copies()
    return copies


def _detached(obj: Any, **related: Any) -> Any:
    """A copy of a loaded object's columns (and `related`, as loaded), in no session: kept
    apart from the session it came from, which expires its objects when it commits."""
    mapper = inspect(obj).mapper
    copy = mapper.class_(**{attr.key: getattr(obj, attr.key) for attr in mapper.column_attrs})
    make_transient_to_detached(copy)
    for name, value in related.items():
        set_committed_value(copy, name, value)
    return copy


def _forget(engine: Engine) -> None:
    _copies.pop(engine, None)


@event.listens_for(Session, "after_flush")
def _changed(session: Session, _context) -> None:
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, CATALOGUE) for obj in touched):
        connection = session.connection()
        _forget(connection.engine)
        connection.info[_CHANGED] = True


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _ended(connection, *_args) -> None:
    if connection.invalidated:  # a lost connection: its info is gone with it (and may not be read)
        _forget(connection.engine)
    elif connection.info.pop(_CHANGED, False):
        _forget(connection.engine)


@event.listens_for(Engine, "rollback_savepoint")
def _taken_back(connection, *_args) -> None:
    if connection.invalidated or connection.info.get(_CHANGED):
        _forget(connection.engine)
