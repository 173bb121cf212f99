"""`kontaktcenter simulate calls|sms`: signed Twilio traffic against a running server on this machine.

kontaktcenter/cli.py adds `group` to the command line and imports this module only when it runs."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from kontaktcenter.channels.twilio_security import signing_token
from kontaktcenter.database import db
from kontaktcenter.directory.models import User

from . import simulate


def _agent_ids() -> list[int]:
    """Agents Twilio could connect (they have a phone or client identity)."""
    return list(
        db.session.scalars(
            select(User.id).where(User.role == "agent", User.active.is_(True), User.phone_identity != "")
        )
    )


def _run(
    kind: str, n: int, concurrency: int, base_url: str | None, duplicates: float, seed: int | None, think: float
) -> None:
    app = current_app
    public_url = app.config["PUBLIC_BASE_URL"]
    target = base_url or public_url
    try:
        simulate.ensure_loopback(target)
    except simulate.SimulatorError as exc:
        raise click.UsageError(str(exc)) from None
    token = signing_token(app)
    if not token:
        raise click.UsageError(
            "TWILIO_AUTH_TOKEN is not set, and no `kontaktcenter demo` has run here: "
            "nothing to sign the requests with (the server would refuse them)"
        )
    agents = _agent_ids() if kind == "calls" else []
    click.echo(
        f"{n} simulated {'calls' if kind == 'calls' else 'SMS'} to {target}, {concurrency} at a time, signed for {public_url}"
    )
    with click.progressbar(length=n, label=kind) as bar:
        stats = simulate.run(
            kind,
            n,
            base_url=target,
            public_url=public_url,
            auth_token=token,
            concurrency=concurrency,
            duplicate_rate=duplicates,
            agent_ids=agents,
            seed=seed,
            progress=bar.update,
            think=think,
        )
    click.echo(f"\nrequests: {stats.requests} (of which repeated as Twilio retries: {stats.duplicates_sent})")
    for outcome, count in sorted(stats.outcomes.items()):
        click.echo(f"  {outcome:<14} {count}")
    p50, p99 = stats.percentile(50), stats.percentile(99)
    if p50 is not None:
        click.echo(f"webhook latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    if stats.failures:
        click.echo("refused or failed requests:", err=True)
        for what, count in stats.failures.most_common():
            click.echo(f"  {count} × {what}", err=True)
        raise SystemExit(1)


group = AppGroup("simulate", help="Drive signed Twilio traffic against a running server (loopback only).")

# The options both commands take.
_OPTIONS = [
    click.option(
        "--n",
        "n",
        default=20,
        show_default=True,
        type=click.IntRange(1, simulate.MAX_N),
        help="how many calls or texts",
    ),
    click.option(
        "--concurrency",
        default=1,
        show_default=True,
        type=click.IntRange(1, simulate.MAX_CONCURRENCY),
        help="parallel conversations (SQLite: keep 1)",
    ),
    click.option("--base-url", default=None, help="where the server listens (default PUBLIC_BASE_URL; loopback only)"),
    click.option(
        "--duplicates",
        default=0.0,
        show_default=True,
        type=click.FloatRange(0, 1),
        help="share of requests sent twice, as Twilio retries",
    ),
    click.option("--seed", default=None, type=int, help="repeat the same traffic"),
    click.option(
        "--think",
        default=0.0,
        show_default=True,
        type=click.FloatRange(0, simulate.MAX_THINK),
        help="seconds before each webhook of a call, as real callers pause (0: back to back)",
    ),
]


def _with_options(fn):
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


@group.command("calls")
@_with_options
def calls(n: int, concurrency: int, base_url: str | None, duplicates: float, seed: int | None, think: float) -> None:
    """Calls through the IVR into the queues: answered, abandoned, callbacks, IVR drops."""
    _run("calls", n, concurrency, base_url, duplicates, seed, think)


@group.command("sms")
@_with_options
def sms(n: int, concurrency: int, base_url: str | None, duplicates: float, seed: int | None, think: float) -> None:
    """Texts from a pool of citizens, so some join their open ticket."""
    _run("sms", n, concurrency, base_url, duplicates, seed, think)
