"""`kontaktcenter directory …`: the city's directory from a file."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app

from ..database import db
from ..worktime.calendar import forget_calendar
from .load import DirectoryFileError, load_directory, read_directory


def register(app: Flask) -> None:
    @app.cli.group("directory")
    def directory_group() -> None:
        """The city's directory: departments, services, queues, locations, opening hours."""

    @directory_group.command("load")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    def load_command(file: Path) -> None:
        """Load or update the directory from FILE.toml (no users); format: config/directory.malmo.toml.

        Every problem is printed as FILE:LINE: message, and then nothing is changed (exit 1).
        """
        try:
            report = load_directory(db.session, read_directory(file))
        except DirectoryFileError as exc:
            db.session.rollback()
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            raise click.ClickException(f"{len(exc.problems)} problem(s) in {file}; nothing was changed") from None
        db.session.commit()
        forget_calendar(current_app)
        for line in report.lines():
            click.echo(line)
        click.echo(
            f"directory loaded from {file}. Restart the running web, worker and scheduler processes "
            "so they read the new opening hours."
        )
