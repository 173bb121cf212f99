"""The `kontaktcenter` command: a Flask CLI group on the app factory, so `flask --app wsgi …` works too."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from .app import create_app
from .config import ConfigError


def _create_app() -> Flask:
    try:
        return create_app()
    except ConfigError as exc:  # a setting to fix, said as such: no traceback
        raise click.ClickException(f"configuration: {exc}") from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def main() -> None:
    """Kontaktcenter: contact-center ticketing and routing for Malmö stad."""


if __name__ == "__main__":  # pragma: no cover
    main()
