"""Never stale (METRICS.md "Output rules"): whatever is written to past days, in whatever
order, the report from the rollups equals the report from the rows, at every step.

Random interleavings of history imports (into days already rolled up, too), contacts
through the intake with phone numbers, late resolutions, escalations, reopenings, repeat
contacts, rollup runs, erasures and deleted tickets. Runs on the suite's database:
SQLite, and PostgreSQL when KC_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kontaktcenter.casework.escalation import Handover, escalate
from kontaktcenter.database import AppSession
from kontaktcenter.directory.models import Queue, User
from kontaktcenter.history.write import HistoryRow, write_history
from kontaktcenter.intake.incoming import IncomingContact
from kontaktcenter.intake.receive import receive
from kontaktcenter.metrics.engine import ReportQuery, records
from kontaktcenter.metrics.models import MetricDirtyDay, MetricRollupDay
from kontaktcenter.metrics.report import report
from kontaktcenter.metrics.rollups import rollup_job
from kontaktcenter.privacy.gallring import empty_tickets
from kontaktcenter.tickets.models import Ticket
from kontaktcenter.tickets.service import TicketError, reopen, resolve
from kontaktcenter.worktime.calendar import WorkCalendar
from tests.fixtures.factories import at

CAL = WorkCalendar()
FIRST_DAY = at("2026-01-05 09:00")  # a Monday; the data spans eight weeks from here
JOB_AT = at("2026-03-20 02:30")  # every rollup run: all of the data's days are settled by then
AS_OF = at("2026-03-20 12:00")
START, END = date(2026, 1, 1), date(2026, 3, 19)
SERVICES = ("skolval", "bygglov")
KEYS = ("k-anna", "k-bo", "k-cem", None)
PHONES = ("+46701110001", "+46701110002", "+46701110003")
GROUPINGS = [((), None), (("service",), None), (("period",), "day")]
KINDS = ("import", "repeat", "intake", "resolve", "reopen", "escalate", "rollup", "erase", "delete")

steps = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 59), st.integers(0, 11), st.integers(0, 11)),
    min_size=2,
    max_size=6,
)


def _reports(session) -> None:
    for by, period in GROUPINGS:
        query = ReportQuery(START, END, by=by, period=period, as_of=AS_OF)
        from_rollups = records(report(session, query, CAL, 5, use_rollups=True))
        from_rows = records(report(session, query, CAL, 5, use_rollups=False))
        assert from_rollups == from_rows, (by, period)


def _pick(session, condition, index: int) -> Ticket | None:
    tickets = session.scalars(select(Ticket).where(condition).order_by(Ticket.id)).all()
    return tickets[index % len(tickets)] if tickets else None


class World:
    def __init__(self, app, session):
        self.app = app
        self.session = session
        self.ids = count(1)
        self.agent = session.scalar(select(User).where(User.username == "agent"))
        self.department_queue = session.scalar(select(Queue).where(Queue.kind == "department").order_by(Queue.id))

    def row(self, arrived, service: str, key: str | None, resolve_after: timedelta | None) -> HistoryRow:
        return HistoryRow(
            external_id=f"never-stale-{next(self.ids)}",
            channel="web",
            service_code=service,
            arrived_at=arrived,
            first_response_at=arrived + timedelta(hours=2),
            resolution="first_contact" if resolve_after is not None else "unresolved",
            resolved_at=arrived + resolve_after if resolve_after is not None else None,
            citizen_key=key,
        )

    def step(self, kind: str, a: int, b: int, c: int) -> None:
        s = self.session
        day = FIRST_DAY + timedelta(days=a, minutes=7 * c)
        service = SERVICES[b % 2]
        if kind == "import":
            # Resolved within the hour, or days later, or not at all.
            after = (timedelta(hours=1), timedelta(days=3), None)[c % 3]
            rows = [self.row(day, service, KEYS[b % 4], after), self.row(day, SERVICES[c % 2], KEYS[c % 4], None)]
            write_history(s, rows)
        elif kind == "repeat":
            # A later contact of the same citizen on the same service: inside the 7 days or just after.
            earlier = _pick(s, Ticket.resolved_at.isnot(None), a)
            if earlier is None:
                return
            key = earlier.contacts[0].citizen_key if earlier.contacts else None
            gap = (timedelta(hours=5), timedelta(days=6, hours=23), timedelta(days=7, hours=1))[c % 3]
            write_history(s, [self.row(earlier.resolved_at + gap, earlier.service.code, key or KEYS[b % 3], None)])
        elif kind == "intake":
            incoming = IncomingContact(
                channel="web", service_code=service, text="Fråga", phone=PHONES[c % 3], arrived_at=day
            )
            with self.app.app_context():
                received = receive(s, incoming)
            if b % 2 and received.ticket is not None and received.ticket.is_open:
                resolve(s, received.ticket, actor=None, at=day + timedelta(minutes=30))
        elif kind == "resolve":
            # Late: up to two months after the ticket arrived (beyond any fixed window).
            ticket = _pick(s, Ticket.resolved_at.is_(None), a)
            if ticket is not None and ticket.is_open:
                resolve(s, ticket, actor=None, at=ticket.first_arrived_at + timedelta(days=b * 5, hours=1))
        elif kind == "reopen":
            ticket = _pick(s, Ticket.resolved_at.isnot(None), a)
            if ticket is not None:
                reopen(s, ticket, actor=None, reason="Medborgaren hörde av sig igen")
        elif kind == "escalate":
            ticket = _pick(s, Ticket.resolved_at.is_(None), a)
            if ticket is not None and self.department_queue is not None:
                try:
                    escalate(s, ticket, self.agent, self.department_queue, Handover("Vill ha besked"), now=AS_OF)
                except TicketError:
                    return
        elif kind == "rollup":
            with self.app.app_context():
                rollup_job(s, JOB_AT)
        elif kind == "erase":
            ticket = _pick(s, Ticket.id.isnot(None), a)
            if ticket is not None:
                empty_tickets(s, [ticket.id], "delete", AS_OF)
        elif kind == "delete":
            ticket = _pick(s, Ticket.id.isnot(None), a)
            if ticket is not None:
                s.delete(ticket)
        s.commit()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_report_from_rollups_equals_report_from_rows_after_every_write(app, session, steps):
    connection = session.bind
    example = connection.begin_nested()  # each example starts from the empty database
    s = AppSession(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
    try:
        world = World(app, s)
        # Some history, rolled up: the later steps write into days the rollups already hold.
        world.step("import", 3, 0, 0)
        world.step("import", 10, 1, 1)
        world.step("rollup", 0, 0, 0)
        assert s.scalar(select(func.count()).select_from(MetricRollupDay))
        for kind, a, b, c in steps:
            world.step(kind, a, b, c)
            _reports(s)
        # The job answers every mark it read.
        world.step("rollup", 0, 0, 0)
        assert s.scalar(select(func.count()).select_from(MetricDirtyDay)) == 0
        _reports(s)
    finally:
        s.close()
        example.rollback()
