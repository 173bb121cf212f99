"""`kontaktcenter demo`: a Malmö-like directory, demo users for every role, realistic history;
refused in production and on a database with real users; passwords per installation."""

import stat
import tomllib
from collections import Counter
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, inspect, select

from kontaktcenter.app import create_app
from kontaktcenter.auth.service import authenticate, hash_password
from kontaktcenter.casework.escalation import inbox
from kontaktcenter.casework.models import Escalation, KnowledgeArticle
from kontaktcenter.commands import upgrade_database
from kontaktcenter.contacts.models import Contact
from kontaktcenter.database import ENGINE_KEY, db, utcnow
from kontaktcenter.demo import PASSWORDS_FILE
from kontaktcenter.directory.catalogue import DEMO_USERS
from kontaktcenter.directory.models import Department, Location, Queue, Service, User
from kontaktcenter.tickets.models import Ticket
from kontaktcenter.vocabulary import ROLES

STOCKHOLM = ZoneInfo("Europe/Stockholm")
PRODUCTION_SECRET = "p" * 48


def _demo_app(tmp_path, **config):
    return create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "SECRET_KEY": "x", **config},
        instance_path=str(tmp_path / "instance"),
    )


def _printed_passwords(output: str) -> dict[str, str]:
    names = {u[0] for u in DEMO_USERS}
    return {
        parts[0]: parts[1] for parts in (line.split() for line in output.splitlines()) if parts and parts[0] in names
    }


def test_demo_loads_directory_users_and_history(tmp_path):
    app = _demo_app(tmp_path)
    result = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--days", "14"])
    assert result.exit_code == 0, result.output
    passwords = _printed_passwords(result.output)
    assert set(passwords) == {u[0] for u in DEMO_USERS}  # every demo user is printed with a password
    with app.app_context():
        s = db.session
        assert s.scalar(select(func.count(Department.id))) >= 10
        assert s.scalar(select(func.count(Service.id))) >= 25
        assert s.scalar(select(Service.confidential).where(Service.code == "forsorjningsstod")) is True
        for code in (
            "skolval",
            "forskoleplats",
            "bygglov",
            "parkeringstillstand",
            "fardtjanst",
            "hemtjanst",
            "avfall",
            "felanmalan-gata",
            "bibliotekskort",
        ):
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

        # The printed passwords are the ones that sign in.
        assert authenticate(s, "admin", passwords["admin"]) is not None

    # Running it again works, adds no second history and prints the same passwords.
    again = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--days", "14"])
    assert again.exit_code == 0, again.output
    assert _printed_passwords(again.output) == passwords
    with app.app_context():
        assert db.session.scalar(select(func.count(Contact.id))) == len(contacts)
        assert db.session.scalar(select(func.count(User.id))) == len(DEMO_USERS)
    app.extensions[ENGINE_KEY].dispose()


def test_the_demo_opens_on_a_believable_morning(tmp_path):
    """A newcomer judges the product by its first screen: a backlog in the tens (not every
    errand since September), each open one on time or flagged as breached, escalations in
    the caseworkers' inboxes, and a knowledge base with answers."""
    app = _demo_app(tmp_path)
    result = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--days", "30"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        s = db.session
        now = utcnow()
        first_line = s.scalar(select(Queue).where(Queue.code == "kc-forsta-linjen"))
        waiting = s.scalars(select(Ticket).where(Ticket.queue_id == first_line.id, Ticket.status != "resolved")).all()
        assert 0 < len(waiting) < 100
        for ticket in waiting:
            due = [d.replace(tzinfo=UTC) for d in (ticket.first_response_due_at, ticket.resolve_due_at) if d]
            assert due, ticket.reference
            responded = ticket.contacts[0].answered_at or any(m.kind == "reply" for m in ticket.messages)
            if not responded:
                assert ticket.sla_breached or ticket.first_response_due_at.replace(tzinfo=UTC) > now, ticket.reference
            assert ticket.sla_breached or ticket.resolve_due_at.replace(tzinfo=UTC) > now, ticket.reference
            assert ticket.subject  # what the citizen asked, not an empty row
        assert any(t.sla_breached for t in waiting)
        assert not all(t.sla_breached for t in waiting)
        # Nearly everything older than a week is resolved or closed.
        week_ago = now - timedelta(days=7)
        old = s.scalar(select(func.count(Ticket.id)).where(Ticket.first_arrived_at < week_ago))
        old_open = s.scalar(
            select(func.count(Ticket.id)).where(Ticket.first_arrived_at < week_ago, Ticket.status != "resolved")
        )
        assert old > 1000
        assert old_open / old < 0.01
        # Every open escalated ticket has its handover, and the caseworkers have an inbox.
        escalated = s.scalars(select(Ticket).where(Ticket.escalated.is_(True), Ticket.status != "resolved")).all()
        handed_over = set(s.scalars(select(Escalation.ticket_id)))
        assert escalated
        assert {t.id for t in escalated} <= handed_over
        for username in ("handlaggare", "bygglov"):
            caseworker = s.scalar(select(User).where(User.username == username))
            assert inbox(s, caseworker), username
        articles = s.scalars(select(KnowledgeArticle)).all()
        assert len(articles) >= 20
        assert len({a.service_id for a in articles}) >= 12
    app.extensions[ENGINE_KEY].dispose()


def test_demo_passwords_are_this_installations_own_strong_and_private(tmp_path):
    app = _demo_app(tmp_path)
    result = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--days", "1"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "instance" / PASSWORDS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = tomllib.loads(path.read_text())
    printed = _printed_passwords(result.output)
    assert kept == printed
    assert all(len(p) >= 12 and username not in p for username, p in printed.items())
    assert len(set(printed.values())) == len(printed)
    assert "demo-2026" not in result.output  # the once-published passwords are gone

    other = _demo_app(tmp_path / "elsewhere")
    elsewhere = other.test_cli_runner().invoke(args=["demo", "--no-serve", "--days", "1"])
    assert elsewhere.exit_code == 0, elsewhere.output
    assert set(_printed_passwords(elsewhere.output).values()).isdisjoint(printed.values())
    for a in (app, other):
        a.extensions[ENGINE_KEY].dispose()


def test_demo_refuses_a_passwords_file_others_can_read(tmp_path):
    app = _demo_app(tmp_path)
    path = tmp_path / "instance" / PASSWORDS_FILE
    path.write_text('admin = "open-to-everyone-1"\n')
    path.chmod(0o644)
    result = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--days", "1"])
    assert result.exit_code != 0
    assert "chmod 600" in result.output
    assert not inspect(app.extensions[ENGINE_KEY]).get_table_names()  # nothing was made
    app.extensions[ENGINE_KEY].dispose()


def test_demo_refuses_production_and_creates_nothing(tmp_path):
    app = _demo_app(tmp_path, ENV="production", SECRET_KEY=PRODUCTION_SECRET)
    result = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--days", "1"])
    assert result.exit_code != 0
    assert "ENV=production" in result.output
    assert "Nothing was changed" in result.output
    assert not inspect(app.extensions[ENGINE_KEY]).get_table_names()  # not even the migrations ran
    assert not (tmp_path / "instance" / PASSWORDS_FILE).exists()
    app.extensions[ENGINE_KEY].dispose()


@pytest.mark.parametrize("foreign", ["kommunens-admin", "admin"])
def test_demo_refuses_a_database_holding_users_it_did_not_create(tmp_path, foreign):
    """A real installation's first admin — even one named like a demo user — stops the demo."""
    app = _demo_app(tmp_path)
    upgrade_database(app.config["DATABASE_URL"])
    with app.app_context():
        db.session.add(
            User(username=foreign, name="Stadens admin", role="admin", password_hash=hash_password("x" * 16))
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--days", "1"])
    assert result.exit_code != 0
    assert f"users the demo did not create ({foreign})" in result.output
    with app.app_context():
        s = db.session
        assert s.scalar(select(func.count(User.id))) == 1
        assert s.scalar(select(func.count(Department.id))) == 0
        assert s.scalar(select(func.count(Contact.id))) == 0
    assert not (tmp_path / "instance" / PASSWORDS_FILE).exists()
    app.extensions[ENGINE_KEY].dispose()


def test_a_demo_database_from_before_the_mark_still_runs_the_demo(tmp_path):
    """Migration 0017 marks the users an earlier demo made; a stranger among them still stops it."""
    from alembic import command
    from sqlalchemy import text

    from kontaktcenter.commands import alembic_config

    app = _demo_app(tmp_path)
    url = app.config["DATABASE_URL"]
    assert app.test_cli_runner().invoke(args=["demo", "--no-serve", "--days", "1"]).exit_code == 0
    app.extensions[ENGINE_KEY].dispose()
    command.downgrade(alembic_config(url), "0016_privacy")  # the users table as an earlier demo left it

    again = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--days", "1"])
    assert again.exit_code == 0, again.output
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id)).where(User.demo.is_(True))) == len(DEMO_USERS)
        db.session.execute(text("UPDATE users SET email = 'per.andersson@malmo.se' WHERE username = 'handlaggare'"))
        db.session.commit()
    app.extensions[ENGINE_KEY].dispose()
    command.downgrade(alembic_config(url), "0016_privacy")
    refused = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--days", "1"])
    assert refused.exit_code != 0
    assert "users the demo did not create (handlaggare)" in refused.output
    app.extensions[ENGINE_KEY].dispose()


def test_a_production_configuration_without_a_secret_key_is_a_clear_message_not_a_traceback(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    kontaktcenter = str(Path(sys.executable).with_name("kontaktcenter"))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ENV": "production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
    }
    done = subprocess.run(
        [kontaktcenter, "demo", "--no-serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # noqa: S603
        check=False,
    )
    assert done.returncode == 1
    assert "Error: configuration: SECRET_KEY is not set" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.sqlite3").exists()  # nothing made
