"""`kontaktcenter users …`: create (prompt or link), list, edit, reactivate, reset-link."""

import json

from sqlalchemy import func, select

from kontaktcenter.accounts.models import PasswordLink
from kontaktcenter.directory.models import User

from .conftest import GOOD_PASSWORD, LINK_RE, changes_of, user


def _count(session) -> int:
    return session.scalar(select(func.count(User.id)))


def test_create_with_password_at_the_prompt(runner, session, auth):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "ella",
            "--role",
            "admin",
            "--department",
            "serviceforvaltningen",
            "--name",
            "Ella Ek",
            "--email",
            "ella@malmo.example",
        ],
        input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert GOOD_PASSWORD not in result.output  # the prompt hides it
    created = user(session, "ella")
    assert (created.role, created.department.code, created.name, created.email) == (
        "admin",
        "serviceforvaltningen",
        "Ella Ek",
        "ella@malmo.example",
    )
    assert auth.login("ella", GOOD_PASSWORD).status_code == 302
    [row] = changes_of(session, "ella")
    assert (row.action, row.actor) == ("created", "cli")
    assert json.loads(row.changes)["role"] == [None, "admin"]
    assert "password" not in row.changes
    assert created.password_hash not in row.changes


def test_create_with_a_link_prints_a_one_time_link(runner, session, client, auth):
    result = runner.invoke(args=["users", "create", "nils", "--role", "agent", "--link"])
    assert result.exit_code == 0, result.output
    link = LINK_RE.search(result.output).group(0)
    assert "24 h" in result.output
    assert auth.login("nils", "").status_code in (400, 401)  # no password works yet
    path = link.removeprefix("http://localhost")
    page = client.get(path)
    assert page.status_code == 200
    assert "nils" in page.get_data(as_text=True)


def test_weak_password_at_the_prompt_creates_nothing(runner, session):
    before = _count(session)
    for password, message in [
        ("short-one", "at least 12 characters"),
        ("nils-is-my-name-1", "must not contain the username"),
        ("qwerty123456", "common or has leaked"),
    ]:
        result = runner.invoke(args=["users", "create", "nils", "--role", "agent"], input=f"{password}\n{password}\n")
        assert result.exit_code == 1, result.output
        assert "nothing changed" in result.output
        assert message in result.output
    assert _count(session) == before
    assert user(session, "nils") is None


def test_duplicate_username_is_refused(runner, session):
    before = _count(session)
    result = runner.invoke(args=["users", "create", "Agent", "--role", "agent", "--link"])
    assert result.exit_code == 1
    assert "The username agent already exists." in result.output
    assert _count(session) == before


def test_unknown_department_and_role_are_refused(runner, session):
    before = _count(session)
    result = runner.invoke(args=["users", "create", "nils", "--role", "agent", "--department", "nope", "--link"])
    assert result.exit_code == 1
    assert "department: Unknown department: nope." in result.output
    result = runner.invoke(args=["users", "create", "nils", "--role", "boss", "--link"])
    assert result.exit_code == 2
    assert "boss" in result.output
    assert _count(session) == before
    assert session.scalar(select(func.count(PasswordLink.id))) == 0


def test_list_edit_deactivate_reactivate_each_logged(runner, session):
    listed = runner.invoke(args=["users", "list", "--role", "caseworker"])
    assert "handlaggare" in listed.output
    assert "agent " not in listed.output
    edited = runner.invoke(
        args=["users", "edit", "agent2", "--queues", "kc-forsta-linjen", "--phone", "040-34 10 00", "--capacity", "7"]
    )
    assert edited.exit_code == 0, edited.output
    agent2 = user(session, "agent2")
    assert [q.code for q in agent2.queues] == ["kc-forsta-linjen"]
    assert agent2.phone_identity == "+4640341000"
    bad = runner.invoke(args=["users", "edit", "agent2", "--phone", "not a phone", "--capacity", "3"])
    assert bad.exit_code == 1
    assert "phone_identity" in bad.output
    assert user(session, "agent2").max_open_tickets == 7  # nothing of the bad edit was kept
    assert runner.invoke(args=["users", "deactivate", "agent2"]).exit_code == 0
    assert "deactivated" in runner.invoke(args=["users", "list", "--inactive"]).output
    assert runner.invoke(args=["users", "reactivate", "agent2"]).exit_code == 0
    actions = [(c.action, c.actor) for c in changes_of(session, "agent2")]
    assert actions == [("updated", "cli"), ("deactivated", "cli"), ("reactivated", "cli")]
    updated = json.loads(changes_of(session, "agent2")[0].changes)
    assert updated["max_open_tickets"] == [5, 7]
    assert updated["phone_identity"] == ["client:agent2", "+4640341000"]


def test_the_last_admin_cannot_be_deactivated_or_demoted(runner, session):
    result = runner.invoke(args=["users", "deactivate", "admin"])
    assert result.exit_code == 1
    assert "only active administrator" in result.output
    result = runner.invoke(args=["users", "edit", "admin", "--role", "agent"])
    assert result.exit_code == 1
    assert "only active administrator" in result.output
    assert user(session, "admin").active
    assert user(session, "admin").role == "admin"


def test_reset_link_and_password_command_follow_the_policy(runner, session, client):
    result = runner.invoke(args=["users", "reset-link", "agent2"])
    assert result.exit_code == 0
    assert "1 h" in result.output
    link = LINK_RE.search(result.output).group(0).removeprefix("http://localhost")
    weak = runner.invoke(args=["users", "password", "agent2"], input="agent2-password-1\nagent2-password-1\n")
    assert weak.exit_code == 1
    assert "username" in weak.output
    assert client.get(link).status_code == 200  # the weak attempt changed nothing
    strong = runner.invoke(args=["users", "password", "agent2"], input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n")
    assert strong.exit_code == 0, strong.output
    assert client.get(link).status_code == 404  # a password set otherwise ends the link
