"""`kontaktcenter directory import-staff FILE.csv`: the switchboard directory from an HR export."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from ..database import db
from .staff_import import StaffFileError, import_file


@click.command("import-staff")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--partial",
    is_flag=True,
    help="only add and update: staff the file does not name stay active (default: they are deactivated)",
)
def import_staff_command(file: Path, partial: bool) -> None:
    """Load or update the switchboard's staff directory from FILE.csv (an HR export).

    Columns: employee_id, name, department (code) required; title, unit, phone, email,
    keywords, absent_until, absence_message, alternative_employee_id optional (see
    kontaktcenter/switchboard/staff_import.py). Each rejected row is printed with its line
    and reason and nothing of it is written; the exit code is 1 if any row was rejected.
    """
    try:
        report = import_file(db.session, file, full=not partial)
    except StaffFileError as exc:
        db.session.rollback()
        raise click.ClickException(f"{file}: {exc}; nothing was changed") from None
    db.session.commit()
    for rejected in report.rejected:
        click.echo(f"{file}:{rejected}", err=True)
    click.echo(f"staff directory from {file}: {report.summary()}")
    if report.rejected:
        raise SystemExit(1)


def register(app) -> None:
    # The staff are the directory's: `kontaktcenter directory import-staff`.
    app.cli.commands["directory"].add_command(import_staff_command)
