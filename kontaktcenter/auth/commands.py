"""`kontaktcenter users …`: the account changes that end a user's sessions."""
from __future__ import annotations

import click
from flask import Flask

from ..database import db
from ..directory.models import User
from . import audit, sessions, two_factor
from .service import MIN_PASSWORD_LENGTH, change_password, deactivate, end_sessions, find_user


def _user(username: str) -> User:
    user = find_user(db.session, username)
    if user is None:
        raise click.UsageError(f"no user {username!r}")
    return user


def register(app: Flask) -> None:
    @app.cli.group("users")
    def users_group() -> None:
        """Staff accounts: passwords, deactivation, sessions."""

    @users_group.command("password")
    @click.argument("username")
    @click.password_option(prompt="New password", help="the new password (asked for when not given)")
    def password_command(username: str, password: str) -> None:
        """Set a user's password; every session of the user ends."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise click.UsageError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
        ended = change_password(db.session, _user(username), password, sessions.now(), audit.CLI)
        db.session.commit()
        click.echo(f"password set for {username}; sessions ended: {ended}")

    @users_group.command("deactivate")
    @click.argument("username")
    def deactivate_command(username: str) -> None:
        """Stop a user from signing in; every session of the user ends now."""
        ended = deactivate(db.session, _user(username), sessions.now(), audit.CLI)
        db.session.commit()
        click.echo(f"{username} deactivated; sessions ended: {ended}")

    @users_group.command("end-sessions")
    @click.argument("username")
    def end_sessions_command(username: str) -> None:
        """Sign a user out everywhere (e.g. a lost laptop) without other changes."""
        ended = end_sessions(db.session, _user(username), sessions.now(), audit.CLI)
        db.session.commit()
        click.echo(f"sessions ended for {username}: {ended}")

    @users_group.command("reset-2fa")
    @click.argument("username")
    def reset_two_factor_command(username: str) -> None:
        """Remove a user's authenticator and recovery codes (a lost phone): the next sign-in
        asks only for the password, then for a new enrolment if the role requires it."""
        user = _user(username)
        had = two_factor.reset(db.session, user, sessions.now(), audit.CLI, by="command line")
        db.session.commit()
        click.echo(f"two-factor sign-in reset for {username}" if had else f"{username} had no two-factor sign-in; logged anyway")
