"""`kontaktcenter users …`: staff accounts at the command line.

Every change is in the admin audit log with "cli" as who. Messages are in English, like
the other commands.
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask_babel import force_locale

from ..auth.passwords import WeakPassword
from ..auth.service import end_sessions, find_user
from ..database import db
from ..directory.models import User
from ..vocabulary import ROLES
from . import changes
from .service import (
    AccountError,
    AccountFields,
    check_new_user,
    create_user,
    deactivate_user,
    issue_link,
    now,
    reactivate_user,
    reset_two_factor,
    set_password,
    update_user,
    users,
)


def _user(username: str) -> User:
    user = find_user(db.session, username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    return user


def _refuse(err: AccountError | WeakPassword) -> click.ClickException:
    """The error with every problem on its own line; the caller changes nothing."""
    db.session.rollback()
    with force_locale("en"):
        lines = (
            [str(p) for p in err.problems]
            if isinstance(err, WeakPassword)
            else [f"{field}: {message}" if field else str(message) for field, message in err.problems.items()]
        )
    return click.ClickException("nothing changed:\n  " + "\n  ".join(lines))


def _codes(value: str | None) -> list[str] | None:
    return None if value is None else [c.strip() for c in value.split(",") if c.strip()]


def _prompt_password(username: str) -> str:
    return click.prompt(f"Password for {username}", hide_input=True, confirmation_prompt=True)


def register(app: Flask) -> None:
    @app.cli.group("users")
    def users_group() -> None:
        """Staff accounts: create, list, edit, passwords and links, deactivation, sessions."""

    @users_group.command("create")
    @click.argument("username")
    @click.option("--role", required=True, type=click.Choice(ROLES), help="the user's role")
    @click.option("--department", help="department code (see config/directory.*.toml)")
    @click.option("--name", help="full name (default: the username)")
    @click.option("--email", default="", help="e-mail address (for password reset links)")
    @click.option("--link", is_flag=True, help="print a one-time set-password link instead of asking for a password")
    def create_command(
        username: str, role: str, department: str | None, name: str | None, email: str, link: bool
    ) -> None:
        """Create a user: the password at a prompt (asked twice, hidden), or a one-time link."""
        data = AccountFields(name=name or username, role=role, email=email, department=department)
        try:
            check_new_user(db.session, username, data)  # before the prompt: a typo costs no password typed twice
        except AccountError as err:
            raise _refuse(err) from None
        password = None if link else _prompt_password(username)
        at = now()
        try:
            user = create_user(db.session, username, data, changes.CLI, at, password=password)
            url = issue_link(db.session, user, "welcome", changes.CLI, at, current_app.config) if link else None
        except (AccountError, WeakPassword) as err:
            raise _refuse(err) from None
        db.session.commit()
        click.echo(f"created {user.username} ({user.role})")
        if url:
            hours = current_app.config["PASSWORD_LINK_WELCOME_HOURS"]
            click.echo(f"one-time link to set the password (works once, for {hours} h):\n{url}")

    @users_group.command("list")
    @click.option("--role", type=click.Choice(ROLES))
    @click.option("--department", default="", help="department code")
    @click.option("--inactive/--active", "inactive", default=None, help="only deactivated / only active users")
    def list_command(role: str | None, department: str, inactive: bool | None) -> None:
        """List users: username, role, department, active, name."""
        for user in users(
            db.session, role=role or "", department=department, active=None if inactive is None else not inactive
        ):
            dept = user.department.code if user.department else "-"
            click.echo(
                f"{user.username:<20} {user.role:<15} {dept:<22} {'active' if user.active else 'deactivated':<12} {user.name}"
            )

    @users_group.command("edit")
    @click.argument("username")
    @click.option("--name")
    @click.option("--email")
    @click.option("--role", type=click.Choice(ROLES))
    @click.option("--department", help='department code ("" for none)')
    @click.option("--location", help='location code ("" for none)')
    @click.option("--queues", help="queue codes, comma-separated (replaces the user's queues)")
    @click.option("--services", help="service codes, comma-separated (replaces the user's services)")
    @click.option("--languages", help="language codes, comma-separated (replaces the user's languages)")
    @click.option("--phone", "phone_identity", help="E.164 number, sip:user@host or client:identity")
    @click.option("--capacity", "max_open_tickets", type=int, help="open tickets at most")
    def edit_command(username: str, **options) -> None:
        """Change a user's details; only the options given change."""
        user = _user(username)
        for key in ("queues", "services", "languages"):
            options[key] = _codes(options[key])
        data = AccountFields.of(user).but(**options)
        try:
            changed = update_user(db.session, user, data, changes.CLI, now())
        except AccountError as err:
            raise _refuse(err) from None
        db.session.commit()
        if not changed:
            click.echo(f"{user.username}: nothing to change")
        for key, (before, after) in sorted(changed.items()):
            click.echo(f"{user.username}: {key}: {before!r} -> {after!r}")

    @users_group.command("reset-link")
    @click.argument("username")
    def reset_link_command(username: str) -> None:
        """Print a one-time link to set a new password (the user's older links stop working)."""
        user = _user(username)
        try:
            url = issue_link(db.session, user, "reset", changes.CLI, now(), current_app.config)
        except AccountError as err:
            raise _refuse(err) from None
        db.session.commit()
        click.echo(
            f"one-time link for {user.username} (works once, for {current_app.config['PASSWORD_LINK_RESET_HOURS']} h):\n{url}"
        )

    @users_group.command("password")
    @click.argument("username")
    @click.password_option(prompt="New password", help="the new password (asked for when not given)")
    def password_command(username: str, password: str) -> None:
        """Set a user's password; every session of the user ends."""
        user = _user(username)
        try:
            ended = set_password(db.session, user, password, changes.CLI, now())
        except WeakPassword as err:
            raise _refuse(err) from None
        db.session.commit()
        click.echo(f"password set for {user.username}; sessions ended: {ended}")

    @users_group.command("deactivate")
    @click.argument("username")
    def deactivate_command(username: str) -> None:
        """Stop a user from signing in; every session of the user ends now."""
        user = _user(username)
        try:
            ended = deactivate_user(db.session, user, changes.CLI, now())
        except AccountError as err:
            raise _refuse(err) from None
        db.session.commit()
        click.echo(f"{user.username} deactivated; sessions ended: {ended}")

    @users_group.command("reactivate")
    @click.argument("username")
    def reactivate_command(username: str) -> None:
        """Let a deactivated user sign in again (with the password they had, or a new link)."""
        user = _user(username)
        try:
            reactivate_user(db.session, user, changes.CLI, now())
        except AccountError as err:
            raise _refuse(err) from None
        db.session.commit()
        click.echo(f"{user.username} reactivated")

    @users_group.command("end-sessions")
    @click.argument("username")
    def end_sessions_command(username: str) -> None:
        """Sign a user out everywhere (e.g. a lost laptop) without other changes."""
        ended = end_sessions(db.session, _user(username), now(), changes.CLI.client)
        db.session.commit()
        click.echo(f"sessions ended for {username}: {ended}")

    @users_group.command("reset-2fa")
    @click.argument("username")
    def reset_two_factor_command(username: str) -> None:
        """Remove a user's authenticator and recovery codes (a lost phone): the next sign-in
        asks only for the password, then for a new enrolment if the role requires it."""
        user = _user(username)
        had = reset_two_factor(db.session, user, changes.CLI, now())
        db.session.commit()
        click.echo(
            f"two-factor sign-in reset for {username}"
            if had
            else f"{username} had no two-factor sign-in; logged anyway"
        )
