"""`kontaktcenter demo`: a Malmö-like directory, demo users for every role, realistic history."""
from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from kontaktcenter.app import create_app
from kontaktcenter.contacts.models import Contact
from kontaktcenter.database import ENGINE_KEY, db
from kontaktcenter.directory.models import ROLES, Department, Location, Queue, Service, User
from kontaktcenter.tickets.models import Ticket

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def test_demo_loads_directory_users_and_history(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "SECRET_KEY": "x"})
    result = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--days", "14"])
    assert result.exit_code == 0, result.output
    assert "amira-malmo-demo-2026" in result.output  # passwords are printed
    with app.app_context():
        s = db.session
        assert s.scalar(select(func.count(Department.id))) >= 10
        assert s.scalar(select(func.count(Service.id))) >= 25
        assert s.scalar(select(Service.confidential).where(Service.code == "forsorjningsstod")) is True
        for code in ("skolval", "forskoleplats", "bygglov", "parkeringstillstand", "fardtjanst", "hemtjanst",
                     "avfall", "felanmalan-gata", "bibliotekskort"):
            assert s.scalar(select(Service.id).where(Service.code == code)), code
        kinds = {q.kind for q in s.scalars(select(Queue))}
        assert kinds == {"first_line", "department"}
        locations = {loc.code: loc.kind for loc in s.scalars(select(Location))}
        assert {"filial-rosengard", "filial-holma", "filial-lindangen"} <= set(locations)
        assert list(locations.values()).count("library") >= 3
        assert {u.role for u in s.scalars(select(User))} == set(ROLES)

        contacts = s.scalars(select(Contact)).all()
        assert len(contacts) > 1000
        assert s.scalar(select(func.count(Ticket.id))) == len(contacts)
        hours = Counter(c.arrived_at.astimezone(STOCKHOLM).hour for c in contacts)
        weekdays = Counter(c.arrived_at.astimezone(STOCKHOLM).weekday() for c in contacts)
        assert hours[10] > 3 * hours[20]  # office hours peak
        assert weekdays[0] > 5 * weekdays[6]  # Mondays busy, Sundays quiet
        assert {c.channel for c in contacts} == {"phone", "sms", "web", "email", "walk_in", "open311"}
        assert {"answered", "abandoned", "callback_requested", "served", "left"} <= {c.outcome for c in contacts}

    # Running it again adds no second history.
    again = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--days", "14"])
    assert again.exit_code == 0, again.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Contact.id))) == len(contacts)
    app.extensions[ENGINE_KEY].dispose()
