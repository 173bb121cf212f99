"""`kontaktcenter import contacts FILE.csv`: historical contacts from another system."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask

from ..database import db


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def register(app: Flask) -> None:
    @app.cli.group("import")
    def import_group() -> None:
        """Import data from other systems."""

    @import_group.command("contacts")
    @click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(1, 100000))
    def import_contacts_command(csv_file: Path, batch_size: int) -> None:
        """Import historical contacts (METRICS.md's format); idempotent on external_id."""
        from .importer import ImportFileError, import_contacts

        rows = max(_count_lines(csv_file) - 1, 0)
        try:
            with (
                csv_file.open("rb") as fh,  # decoded line by line: a bad byte is reported with its line
                click.progressbar(
                    length=rows, label=f"importing {csv_file.name}", file=sys.stderr, show_pos=True
                ) as bar,
            ):
                result = import_contacts(
                    db.session, fh, commit=db.session.commit, progress=bar.update, batch_size=batch_size
                )
        except ImportFileError as exc:
            db.session.rollback()
            click.echo(f"{csv_file}: {exc}", err=True)
            sys.exit(1)
        click.echo(
            f"{result.total} rows: {result.accepted} imported, {result.already_imported} already imported, "
            f"{len(result.rejected)} rejected"
        )
        for r in result.rejected:
            click.echo(f"{csv_file}:{r.line}: {r.external_id or '(no external_id)'}: {r.reason}", err=True)
        if result.stopped:
            click.echo(f"{csv_file}: {result.stop_message()}", err=True)
            click.echo("Fix the file and import it again: the rows already imported are skipped.", err=True)
        if result.rejected or result.stopped:
            sys.exit(1)
