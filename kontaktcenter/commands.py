"""The app's commands: each part's command module, the database schema (`db upgrade`) and the demo.

The app factory adds them to `app.cli`, so `flask --app wsgi …` and the `kontaktcenter`
command (cli.py) list the same commands.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from pathlib import Path

import click
from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app

from .config import PROJECT_ROOT
from .database import db


def alembic_config(database_url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade_database(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


# Each part of the domain adds its command module here (a module with `register(app)`).
COMMAND_MODULES: list[str] = [
    "kontaktcenter.channels.tokens.commands",
    "kontaktcenter.history.commands",
    "kontaktcenter.scheduling.commands",
    "kontaktcenter.metrics.commands",
    "kontaktcenter.routing.commands",
    "kontaktcenter.intake.commands",
    "kontaktcenter.accounts.commands",
    "kontaktcenter.privacy.commands",
    "kontaktcenter.directory.commands",
    "kontaktcenter.switchboard.commands",  # after the directory's: import-staff joins its group
]


# Development tools outside the served app (kontaktcenter_dev): a command group each, from the module
# named here (its `group`), imported only when the group runs, so create_app never loads them.
DEV_COMMAND_GROUPS: dict[str, tuple[str, str]] = {
    "simulate": ("kontaktcenter_dev.commands", "Drive signed Twilio traffic against a running server (loopback only)."),
}


class _DevGroup(click.Group):
    """A group whose commands are those of a module imported the first time one is asked for."""

    def __init__(self, name: str, module: str, help: str) -> None:
        super().__init__(name, help=help)
        self.module = module

    def _group(self) -> click.Group:
        return importlib.import_module(self.module).group

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._group().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._group().get_command(ctx, cmd_name)


def register_commands(app: Flask) -> None:
    """Add every command to `app.cli` (the app factory calls it)."""
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    for name, (module, help_text) in DEV_COMMAND_GROUPS.items():
        app.cli.add_command(_DevGroup(name, module, help_text))

    @app.cli.group("db")
    def db_group() -> None:
        """The database schema (Alembic migrations)."""

    @db_group.command("upgrade")
    @click.argument("revision", default="head")
    def db_upgrade(revision: str) -> None:
        """Apply migrations to DATABASE_URL."""
        upgrade_database(current_app.config["DATABASE_URL"], revision)
        click.echo(f"database at revision {revision}: {db.engine.url.render_as_string(hide_password=True)}")

    @app.cli.command("demo")
    @click.option("--port", default=5000, show_default=True, type=int)
    @click.option("--days", default=90, show_default=True, type=int, help="days of generated history")
    @click.option("--no-serve", is_flag=True, help="prepare the database and exit")
    def demo(port: int, days: int, no_serve: bool) -> None:
        """Migrate, load the Malmö demo directory and history, and serve on 127.0.0.1."""
        from .demo import PASSWORDS_FILE, STOCKHOLM, DemoRefused, demo_passwords, load_demo, refuse_demo
        from .worktime.calendar import forget_calendar

        url = current_app.config["DATABASE_URL"]
        click.echo(f"database: {db.engine.url.render_as_string(hide_password=True)}")
        try:
            refuse_demo(db.session, current_app.config["ENV"])
            db.session.rollback()  # the checks only read; end their transaction before migrating
            passwords = demo_passwords(Path(current_app.instance_path))
        except DemoRefused as exc:
            db.session.rollback()
            raise click.ClickException(f"{exc}\nNothing was changed.") from None
        upgrade_database(url)
        with click.progressbar(length=1, label="loading directory, users and history") as bar:
            users = load_demo(db.session, datetime.now(STOCKHOLM).date(), passwords, days)
            db.session.commit()
            bar.update(1)
        forget_calendar(current_app)  # the directory's opening hours may be new
        click.echo(
            f"\nDemo users (username / password / role; the passwords are this installation's own, "
            f"kept in {Path(current_app.instance_path) / PASSWORDS_FILE}):"
        )
        for username, role, password in users:
            click.echo(f"  {username:<18} {password:<24} {role}")
        if required := current_app.config["TWO_FACTOR_REQUIRED_ROLES"]:
            click.echo(
                f"Two-factor sign-in is required for the roles {', '.join(required)}: those users add the account "
                "to an authenticator app (a QR code) at their first sign-in."
            )
        if no_serve:
            return
        app = current_app._get_current_object()
        if not app.config["TWILIO_AUTH_TOKEN"]:
            from .channels.twilio_security import DEMO_TOKEN_FILE, use_demo_token

            use_demo_token(app)
            click.echo(
                f"\nTwilio: no TWILIO_AUTH_TOKEN, so this demo checks webhook signatures against a demo token "
                f"made for this installation ({Path(app.instance_path) / DEMO_TOKEN_FILE}); "
                "`kontaktcenter simulate calls|sms` signs with it. Never for a real Twilio account."
            )
        click.echo(f"\nKontaktcenter demo: http://127.0.0.1:{port}/kontakt  (staff: http://127.0.0.1:{port}/login)")
        from werkzeug.serving import run_simple

        from .scheduling.runner import start_in_process

        # The demo is the embedded deployment: its scheduler runs in this process.
        start_in_process(current_app._get_current_object())

        # Loopback only: the demo is for one machine, never exposed.
        run_simple("127.0.0.1", port, current_app._get_current_object(), threaded=True)
