"""The catalogue a contact needs (service, queue) is kept per process, and a change is never
served stale by the process that made it: flushed, committed or rolled back."""

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event, update

from kontaktcenter.directory import cache
from kontaktcenter.directory.models import Service
from kontaktcenter.intake.incoming import ContactError, IncomingContact
from kontaktcenter.intake.receive import receive


@contextmanager
def statements(session):
    """The SQL statements run on the session's connection inside the block."""
    seen: list[str] = []
    connection = session.connection()

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


def test_a_contact_reads_neither_its_service_nor_its_queue_once_they_are_known(make_contact, session):
    make_contact(service="bygglov")
    with statements(session) as seen:
        received = make_contact(service="bygglov")
    assert received.ticket.service.code == "bygglov"
    assert received.ticket.queue.code == received.contact.queue.code
    assert received.ticket.service.department.code  # routing reads it: loaded with the service
    # The lookups by code (an agent's own queues are another matter, read when offered a ticket).
    assert not [s for s in seen if re.search(r"WHERE (services\.code =|queues\.code IN)", s)], seen


def test_a_service_this_process_deactivates_refuses_the_next_contact(make_contact, session, service_by_code):
    make_contact(service="bygglov")
    service_by_code("bygglov").active = False
    session.commit()
    with pytest.raises(ContactError, match="unknown service 'bygglov'"):
        make_contact(service="bygglov")


def test_a_change_that_was_rolled_back_is_not_kept(app, make_contact, session, service_by_code):
    assert not make_contact(service="bygglov").ticket.confidential
    service_by_code("bygglov").confidential = True
    session.flush()
    with app.app_context():  # in the same transaction as the change, while it holds
        assert receive(
            session, IncomingContact(channel="web", service_code="bygglov", text="Plank?")
        ).ticket.confidential
    session.rollback()
    assert not make_contact(service="bygglov").ticket.confidential


def test_a_change_made_outside_this_process_is_seen_once_the_copies_are_too_old(make_contact, session, monkeypatch):
    assert not make_contact(service="bygglov").ticket.confidential
    # As another process's `directory load` writes it: no flush of this process sees it.
    session.connection().execute(update(Service).where(Service.code == "bygglov").values(confidential=True))
    session.expire_all()  # as a new request's session: nothing of the service loaded
    assert not make_contact(service="bygglov").ticket.confidential  # the copy, until it is TTL old
    session.expire_all()
    monkeypatch.setattr(cache, "TTL", 0.0)
    assert make_contact(service="bygglov").ticket.confidential
