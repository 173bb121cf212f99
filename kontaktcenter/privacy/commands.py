"""The `gallring`, `registerutdrag` and `dataskydd` (rättelse, radering, begränsning) commands."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import Flask

from ..database import db
from . import gallring


def _parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 time: {value}") from exc
    if moment.tzinfo is None:
        raise click.BadParameter("give the time with an offset, e.g. 2027-01-01T03:00:00+01:00")
    return moment.astimezone(UTC)


def register(app: Flask) -> None:
    _register_extract(app)
    _register_rights(app)

    @app.cli.command("gallring")
    @click.option("--dry-run", "mode", flag_value="dry", help="list what would go and why; change nothing")
    @click.option("--run", "mode", flag_value="run", help="apply the rules and write gallring records")
    @click.option(
        "--now", "now_text", default=None, help="the moment to apply the rules at (ISO 8601 with offset; default now)"
    )
    def gallring_command(mode: str | None, now_text: str | None) -> None:
        """Apply each service's retention rule (gallring) to closed tickets."""
        if mode is None:
            raise click.UsageError("give --dry-run or --run")
        now = _parse_now(now_text)
        try:
            planned = (
                gallring.plan(db.session, now)
                if mode == "dry"
                else gallring.run(db.session, now, after_batch=db.session.commit)
            )
        except gallring.GallringError as exc:
            db.session.rollback()
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(1) from exc
        db.session.commit()
        verb = "would go" if mode == "dry" else "done"
        click.echo(f"gallring at {now.isoformat()} ({'dry run' if mode == 'dry' else 'run'})")
        click.echo(f"{'service':<26} {'rule':<16} {'tickets':>8} {'contacts':>9}")
        for p in planned:
            why = f"closed on or before {p.rule.cutoff.date().isoformat()}"
            click.echo(f"{p.rule.service_code:<26} {p.rule.text:<16} {p.tickets:>8} {p.contacts:>9}   {why}")
        total_t = sum(p.tickets for p in planned)
        total_c = sum(p.contacts for p in planned)
        click.echo(f"{'total':<26} {'':<16} {total_t:>8} {total_c:>9}   ({verb})")


def _register_extract(app: Flask) -> None:
    @app.cli.command("registerutdrag")
    @click.option("--personnummer", default=None, help="personnummer or samordningsnummer")
    @click.option("--phone", default=None, help="phone number (Swedish national format or +country)")
    @click.option("--email", default=None, help="e-mail address")
    @click.option("--citizen-key", default=None, help="the pseudonymous id a source system gave imported history")
    @click.option("--format", "fmt", type=click.Choice(["html", "json"]), default="html", show_default=True)
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, writable=True),
        default=None,
        help="file (default: standard output)",
    )
    @click.option(
        "--by",
        "username",
        required=True,
        help="the admin or dataskydd user handling the request (logged in the access log)",
    )
    def registerutdrag_command(personnummer, phone, email, citizen_key, fmt, output, username) -> None:
        """Everything stored about one person (GDPR art. 15); give every identifier they use."""
        from sqlalchemy import select

        from ..directory.models import User
        from .documents import as_html, as_json
        from .extract import ExtractError, person, registerutdrag

        user = db.session.scalar(select(User).where(User.username == username, User.active.is_(True)))
        if user is None or user.role not in ("admin", "dataskydd"):
            click.echo(f"error: {username} is not an active admin or dataskydd user", err=True)
            raise SystemExit(1)
        try:
            who = person(personnummer=personnummer, phone=phone, email=email, citizen_key=citizen_key)
        except ExtractError as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(1) from exc
        data = registerutdrag(db.session, user, who)
        db.session.commit()
        if fmt == "json":
            document = as_json(data)
        else:
            with app.test_request_context():
                document = as_html(data)
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(document)
            click.echo(
                f"registerutdrag for {who.masked()}: {len(data['contacts'])} contacts, {len(data['tickets'])} tickets → {output}"
            )
        else:
            click.echo(document)


def _register_rights(app: Flask) -> None:
    from flask.cli import AppGroup
    from sqlalchemy import select

    from ..directory.models import User
    from ..tickets.models import Ticket
    from . import rights

    group = AppGroup("dataskydd", help="Rättelse, radering and begränsning of a citizen's data on a ticket (logged).")
    app.cli.add_command(group)

    def _fail(message: str) -> None:
        db.session.rollback()
        click.echo(f"error: {message}", err=True)
        raise SystemExit(1)

    def _run(reference: str, username: str, action) -> None:
        user = db.session.scalar(select(User).where(User.username == username, User.active.is_(True)))
        if user is None or user.role not in rights.RIGHTS_ROLES:
            _fail(f"{username} is not an active admin or dataskydd user")
        ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference.strip().upper()))
        if ticket is None:
            _fail(f"no ticket {reference}")
        try:
            action(ticket, user)
        except rights.RightsError as exc:
            _fail(str(exc))
        db.session.commit()

    by = click.option(
        "--by", "username", required=True, help="the admin or dataskydd user handling the request (logged)"
    )
    reason = click.option("--reason", required=True, help="the request and why (logged with the event)")

    @group.command("rattelse")
    @click.argument("reference")
    @click.option("--field", type=click.Choice(rights.FIELDS), required=True)
    @click.option("--value", required=True, help="the right value (empty: remove it)")
    @reason
    @by
    def rattelse(reference, field, value, reason, username):
        """Correct a citizen identifier on every contact of the ticket."""
        _run(reference, username, lambda t, u: rights.correct(db.session, t, u, field, value, reason))
        click.echo(f"{reference}: {field} corrected")

    @group.command("radering")
    @click.argument("reference")
    @reason
    @by
    def radering(reference, reason, username):
        """Erase the ticket's personal data as gallring does (refused while a rule keeps it)."""
        _run(reference, username, lambda t, u: rights.erase(db.session, t, u, reason))
        click.echo(f"{reference}: personal data erased")

    @group.command("begransning")
    @click.argument("reference")
    @click.option("--lift", is_flag=True, help="lift the restriction instead")
    @reason
    @by
    def begransning(reference, lift, reason, username):
        """Restrict processing of the ticket (kept, out of lists and search), or --lift it."""
        _run(
            reference,
            username,
            lambda t, u: (rights.lift_restriction if lift else rights.restrict)(db.session, t, u, reason),
        )
        click.echo(f"{reference}: restriction {'lifted' if lift else 'set'}")
