"""`kontaktcenter api-token create|revoke`: tokens for systems, without the admin page."""

from __future__ import annotations

import sys

import click
from flask import Flask

from ...database import db
from .models import SCOPES


def register(app: Flask) -> None:
    @app.cli.group("api-token")
    def token_group() -> None:
        """API tokens for systems calling the JSON API and Open311."""

    @token_group.command("create")
    @click.option("--name", required=True, help="who uses the token (a system and its owner)")
    @click.option("--scope", required=True, type=click.Choice(SCOPES))
    def create_token_command(name: str, scope: str) -> None:
        """Create a token and print it once; only its hash is stored."""
        from .service import create_token

        try:
            token, raw = create_token(db.session, name, scope)
        except ValueError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        db.session.commit()
        click.echo(f"token {token.id} ({token.name}, scope {token.scope}) — shown once, store it now:")
        click.echo(raw)

    @token_group.command("revoke")
    @click.argument("token_id", type=int)
    def revoke_token_command(token_id: int) -> None:
        """Revoke a token by its id."""
        from .models import ApiToken
        from .service import revoke_token

        token = db.session.get(ApiToken, token_id)
        if token is None:
            click.echo(f"no token with id {token_id}", err=True)
            sys.exit(1)
        revoke_token(db.session, token)
        db.session.commit()
        click.echo(f"token {token_id} ({token.name}) revoked")
