"""The simulator: signed traffic over real HTTP, loopback only, bounded; nothing it was promised is lost."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kontaktcenter.channels.clock import CLOCK_KEY
from kontaktcenter.channels.twilio_security import auth_token
from kontaktcenter.contacts.models import Contact
from kontaktcenter.database import db
from kontaktcenter_dev import simulate
from tests.fixtures.factories import at


@pytest.fixture
def server(live_server):
    live_server.app.extensions[CLOCK_KEY] = lambda: at("2026-03-04 10:00")
    yield live_server
    live_server.app.extensions.pop(CLOCK_KEY, None)


def _stored(app, sids: set[str]) -> tuple[int, int]:
    with app.app_context():
        rows = db.session.scalar(select(func.count(Contact.id)).where(Contact.provider_sid.in_(sids)))
        distinct = db.session.scalar(
            select(func.count(func.distinct(Contact.provider_sid))).where(Contact.provider_sid.in_(sids))
        )
        db.session.remove()
    return rows, distinct


def _concurrency(app) -> int:
    # The embedded SQLite default cannot take parallel writers (deferred transactions that
    # upgrade to writes fail with "database is locked"); PostgreSQL is the city-scale shape.
    with app.app_context():
        return 4 if db.is_postgres else 1


def _run(server, kind: str, n: int, **kw) -> simulate.Stats:
    app = server.app
    return simulate.run(
        kind,
        n,
        base_url=server.url,
        public_url=app.config["PUBLIC_BASE_URL"],
        auth_token=auth_token(app),
        concurrency=_concurrency(app),
        seed=7,
        **kw,
    )


def test_simulated_calls_are_all_accepted_and_stored_once(server):
    stats = _run(server, "calls", 30, duplicate_rate=0.2, agent_ids=[1])
    assert not stats.failures
    assert stats.duplicates_sent > 0
    assert sum(stats.outcomes.values()) == 30
    assert {"answered", "abandoned"} <= set(stats.outcomes)
    assert _stored(server.app, stats.acknowledged_calls) == (len(stats.acknowledged_calls),) * 2


def test_simulated_sms_thread_and_are_stored_once(server):
    stats = _run(server, "sms", 40, duplicate_rate=0.2)
    assert not stats.failures
    assert stats.outcomes["threaded"] > 0  # senders come from a small pool, like citizens
    assert _stored(server.app, stats.acknowledged_messages) == (40, 40)


def test_paced_calls_pause_before_each_webhook(server):
    import time

    started = time.perf_counter()
    stats = _run(server, "calls", 2, think=0.2, agent_ids=[1])
    elapsed = time.perf_counter() - started
    assert not stats.failures
    # Every webhook waited its pause first (calls run one after another on SQLite, in parallel on PostgreSQL).
    per_call = stats.requests / 2
    assert elapsed >= 0.2 * per_call


def test_simulator_signs_with_the_servers_token_or_is_refused(server):
    app = server.app
    stats = simulate.run(
        "sms", 3, base_url=server.url, public_url=app.config["PUBLIC_BASE_URL"], auth_token="wrong", concurrency=1
    )
    assert stats.failures == {"/twilio/sms/incoming: HTTP 403": 3}
    assert stats.acknowledged_messages == set()


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.1:5000", "ftp://127.0.0.1", "http://192.0.2.1"])
def test_simulator_only_talks_to_this_machine(url):
    with pytest.raises(simulate.SimulatorError):
        simulate.ensure_loopback(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:5000", "http://localhost:8000/", "http://[::1]:5000"])
def test_loopback_addresses_are_allowed(url):
    assert simulate.ensure_loopback(url) == url.rstrip("/")


def test_simulate_command_runs_against_a_live_server(server):
    runner = server.app.test_cli_runner()
    args = [
        "simulate",
        "calls",
        "--n",
        "6",
        "--concurrency",
        str(_concurrency(server.app)),
        "--base-url",
        server.url,
        "--seed",
        "3",
    ]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "6 simulated calls" in result.output
    assert "webhook latency: p50" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "0"], "0 is not in the range 1<=x<=20000"),
        (["--n", "20001"], "20001 is not in the range"),
        (["--concurrency", "33"], "33 is not in the range 1<=x<=32"),
        (["--think", "31"], "31.0 is not in the range 0<=x<=30.0"),
        (["--base-url", "http://10.1.2.3:5000"], "the simulator only talks to 127.0.0.1, ::1 or localhost"),
    ],
)
def test_simulate_command_refuses_unbounded_or_remote_runs(runner, args, message):
    result = runner.invoke(args=["simulate", "sms", *args])
    assert result.exit_code == 2
    assert message in result.output
