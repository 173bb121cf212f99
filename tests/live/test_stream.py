"""GET /live/stream: Server-Sent Events for signed-in staff, only the topics they may follow."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from kontaktcenter.auth import audit, sessions
from kontaktcenter.auth import service as auth_service
from kontaktcenter.directory.models import Department, Queue, User
from kontaktcenter.live.access import Listener
from kontaktcenter.live.feed import feed_of
from kontaktcenter.live.notices import Audience, Notice
from kontaktcenter.tickets.models import AccessLog

pytestmark = pytest.mark.usefixtures("live_settings")

CLIENT = audit.Client(ip="192.0.2.7", user_agent="another computer")


def _queue(session, code: str) -> Queue:
    return session.scalar(select(Queue).where(Queue.code == code))


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def read(response, until=lambda events, text: False, seconds: float = 5.0) -> tuple[list[dict], str]:
    """The stream's events (parsed) and its raw text, read until `until` or the stream ends."""
    text = ""
    end = time.monotonic() + seconds
    for chunk in response.response:
        text += chunk.decode() if isinstance(chunk, bytes) else chunk
        if until(_events(text), text) or time.monotonic() > end:
            break
    response.close()
    return _events(text), text


def _events(text: str) -> list[dict]:
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if line and not line.startswith(":") and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "event" in fields:
            fields["json"] = json.loads(fields.get("data", "{}"))
            out.append(fields)
    return out


def _stream(client, topics: str, **headers):
    return client.get(f"/live/stream?topics={topics}", buffered=False, headers=headers)


# -- who may listen -----------------------------------------------------------------------


def test_a_stranger_is_refused(client, session):
    queue = _queue(session, "kc-forsta-linjen")
    response = _stream(client, f"queue:{queue.id}")
    assert response.status_code == 401
    assert response.mimetype == "text/plain"


def test_a_copied_session_cookie_without_its_server_session_is_refused(app, client, auth, session):
    auth.login("agent")
    queue = _queue(session, "kc-forsta-linjen")
    other = app.test_client()
    # The user id alone (as a forged or stale cookie would carry) signs nobody in.
    with other.session_transaction() as cookie:
        cookie["_user_id"] = str(_user(session, "agent").id)
    assert _stream(other, f"queue:{queue.id}").status_code == 401


@pytest.mark.parametrize("username", ["bibliotek", "dataskydd"])
def test_roles_without_live_pages_are_refused(client, auth, session, username):
    auth.login(username)
    assert _stream(client, "presence").status_code == 403


def test_a_caseworker_may_not_follow_another_departments_queue(client, auth, session):
    auth.login("bygglov")
    confidential_queue = _queue(session, "asf-forsorjningsstod")
    response = _stream(client, f"queue:{confidential_queue.id}")
    assert response.status_code == 403
    assert "ämnet" in response.get_data(as_text=True)


def test_nobody_follows_another_users_own_topic(client, auth, session):
    auth.login("agent")
    assert _stream(client, f"user:{_user(session, 'agent2').id}").status_code == 403


@pytest.mark.parametrize(
    "topics",
    [
        "",
        "queue:abc",
        "queue:1;DROP",
        "ticket:1",
        "queue:0",
        "presence,%00",
        ",".join(f"queue:{i}" for i in range(1, 60)),
    ],
)
def test_bad_topics_get_a_clear_error(client, auth, topics):
    auth.login("agent")
    response = _stream(client, topics)
    assert response.status_code == 400
    assert response.get_data(as_text=True).strip()


# -- what they receive ------------------------------------------------------------------------


def test_the_stream_beats_and_ends_by_itself(client, auth, session, live_settings):
    live_settings(lifetime=0.8, heartbeat=0.2)
    auth.login("agent")
    response = _stream(client, "presence")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    started = time.monotonic()
    events, text = read(response)
    assert time.monotonic() - started < 3  # the stream ended: the browser reconnects
    assert text.startswith("retry: ")
    assert text.count(": heartbeat") >= 2
    assert events == []


def test_a_committed_change_reaches_the_stream(app, client, auth, session, make_contact, hub):
    auth.login("agent")
    queue = _queue(session, "kc-forsta-linjen")
    response = _stream(client, f"queue:{queue.id}")
    received = make_contact("web", "allmant")
    events, _ = read(response, until=lambda ev, _t: any(e["json"]["kind"] == "ticket.created" for e in ev))
    created = [e for e in events if e["json"]["kind"] == "ticket.created"]
    assert created[0]["json"]["ticket"] == received.ticket.id
    assert created[0]["event"] == "notice"
    assert created[0]["id"]


def test_a_manager_following_every_queue_never_learns_of_a_confidential_ticket(
    client, auth, session, make_contact, hub
):
    # Managers follow every queue for the wallboard, but read no confidential ticket (OSL).
    auth.login("chef")
    secret_queue = _queue(session, "asf-forsorjningsstod")
    first_line = _queue(session, "kc-forsta-linjen")
    response = _stream(client, f"queue:{secret_queue.id},queue:{first_line.id}")
    assert response.status_code == 200
    secret = make_contact("web", "forsorjningsstod")  # sekretess, lands in asf-forsorjningsstod
    assert secret.ticket.queue_id == secret_queue.id
    open_one = make_contact("web", "allmant")
    events, text = read(response, until=lambda ev, _t: any(e["json"].get("ticket") == open_one.ticket.id for e in ev))
    assert any(e["json"].get("ticket") == open_one.ticket.id for e in events)
    assert f'"ticket":{secret.ticket.id}' not in text
    assert all(e["json"]["topic"] != f"queue:{secret_queue.id}" for e in events)


def test_the_owning_departments_caseworker_learns_of_the_confidential_ticket(client, auth, session, make_contact, hub):
    auth.login("handlaggare")
    secret_queue = _queue(session, "asf-forsorjningsstod")
    response = _stream(client, f"queue:{secret_queue.id}")
    secret = make_contact("web", "forsorjningsstod")
    events, _ = read(response, until=lambda ev, _t: bool(ev))
    assert events[0]["json"]["ticket"] == secret.ticket.id


def test_audience_rules_for_a_confidential_notice(session):
    asf = session.scalar(select(Department).where(Department.code == "asf"))
    notice = Notice(
        "queue:5", "ticket.created", {"ticket": 9, "queue": 5}, Audience(frozenset({asf.id}), frozenset({42}))
    )
    call = Notice("queue:5", "call.queued", {"contact": 3, "ticket": 9, "queue": 5}, notice.audience)
    topics = frozenset({"queue:5"})
    caseworker = Listener(1, "caseworker", asf.id, topics)
    other_caseworker = Listener(2, "caseworker", asf.id + 1, topics)
    agent_who_took_it = Listener(42, "agent", None, topics)
    agent = Listener(43, "agent", None, topics)
    manager = Listener(44, "manager", asf.id, topics)  # managers read no confidential ticket
    assert caseworker.receives(notice) is notice
    assert agent_who_took_it.receives(notice) is notice
    for listener in (other_caseworker, agent, manager):
        assert listener.receives(notice) is None
        # A call still counts in the queue's figures: they learn only that the queue changed.
        stripped = listener.receives(call)
        assert stripped.kind == "queue.changed"
        assert stripped.data == {"queue": 5}
    assert Listener(1, "caseworker", asf.id, frozenset({"queue:6"})).receives(notice) is None


def test_last_event_id_replays_what_was_missed(app, client, auth, session, hub):
    auth.login("agent")
    queue = _queue(session, "kc-forsta-linjen")
    feed = feed_of(app)
    sub = hub.subscribe([f"queue:{queue.id}"])
    feed.publish([Notice(f"queue:{queue.id}", "ticket.created", {"ticket": n, "queue": queue.id}) for n in (1, 2, 3)])
    seen = [sub.get(timeout=5) for _ in range(3)]
    hub.unsubscribe(sub)
    response = _stream(client, f"queue:{queue.id}", **{"Last-Event-ID": seen[0].id})
    events, _ = read(response, until=lambda ev, _t: len(ev) >= 2)
    assert [e["json"]["ticket"] for e in events[:2]] == [2, 3]
    assert [e["id"] for e in events[:2]] == [seen[1].id, seen[2].id]


def test_an_unknown_last_event_id_asks_the_page_to_refresh(client, auth, session, hub):
    auth.login("agent")
    queue = _queue(session, "kc-forsta-linjen")
    response = _stream(client, f"queue:{queue.id}", **{"Last-Event-ID": "1-gone"})
    events, _ = read(response, until=lambda ev, _t: bool(ev))
    assert events[0]["event"] == "reset"


def test_the_stream_does_not_keep_an_idle_session_alive(app, client, auth, session, monkeypatch):
    from kontaktcenter.auth.models import UserSession

    auth.login("agent")
    row = session.scalar(select(UserSession).order_by(UserSession.id.desc()))
    from datetime import timedelta

    before = row.last_seen_at - timedelta(minutes=5)
    row.last_seen_at = before
    session.commit()
    read(_stream(client, "presence"))
    client.get("/console", headers={"X-Live-Refresh": "1"})
    session.expire_all()
    assert session.get(UserSession, row.id).last_seen_at == before
    client.get("/console")  # the user's own request does
    session.expire_all()
    assert session.get(UserSession, row.id).last_seen_at > before


def test_a_stream_writes_no_access_log(client, auth, session):
    auth.login("agent")
    before = session.query(AccessLog).count()
    read(_stream(client, "presence"))
    assert session.query(AccessLog).count() == before


@pytest.mark.parametrize(("username", "path"), [("agent", "/console"), ("agent", "/phone"), ("handlaggare", "/inkorg")])
def test_a_live_page_carries_its_feed_in_the_body_once_and_a_plain_title(client, auth, session, username, path):
    """The feed's markup belongs in the page, not in its <title> (where a browser shows it as text)."""
    auth.login(username)
    html = client.get(path).get_data(as_text=True)
    title = html[html.index("<title>") : html.index("</title>")]
    assert "<div" not in title
    assert "live.js" not in title
    assert html.count('id="live"') == 1


# -- where a stream may be held ------------------------------------------------------------


def test_a_stream_reaching_a_one_request_worker_is_told_to_stop_at_once(client, auth, session):
    # gunicorn's sync workers (config/gunicorn.conf.py) serve one request at a time: a stream
    # the proxy misroutes there ends at once instead of taking the worker for minutes, and
    # the page offers its refresh link (live.js hears "unavailable").
    auth.login("agent")
    queue = _queue(session, "kc-forsta-linjen")
    sync_worker = {"gunicorn.socket": object(), "wsgi.multithread": False}
    response = client.get(f"/live/stream?topics=queue:{queue.id}", buffered=False, environ_overrides=sync_worker)
    assert response.status_code == 200
    events, _text = read(response, seconds=2)
    assert [e["event"] for e in events] == ["unavailable"]

    threaded_worker = {"gunicorn.socket": object(), "wsgi.multithread": True}
    response = client.get(f"/live/stream?topics=queue:{queue.id}", buffered=False, environ_overrides=threaded_worker)
    _events_seen, text = read(response, until=lambda events, text: "retry:" in text, seconds=2)
    assert "retry:" in text
    assert "unavailable" not in text


def test_the_web_workers_serve_one_request_at_a_time_and_the_live_ones_hold_streams():
    import runpy
    from pathlib import Path

    config = Path(__file__).resolve().parents[2] / "config"
    web = runpy.run_path(str(config / "gunicorn.conf.py"))
    live = runpy.run_path(str(config / "gunicorn-live.conf.py"))
    assert web["worker_class"] == "sync"
    assert live["worker_class"] == "gthread"
    assert live["threads"] >= 64


def _sign_out_elsewhere(session, user):
    auth_service.sign_out(session, user, sessions.now(), CLIENT)


def _new_password(session, user):
    auth_service.change_password(session, user, "ett-helt-nytt-losenord-2026", sessions.now(), CLIENT)


def _disabled(session, user):
    auth_service.deactivate(session, user, sessions.now(), CLIENT, why="slutat")


@pytest.mark.parametrize("revoke", [_sign_out_elsewhere, _new_password, _disabled])
def test_a_revoked_session_ends_its_open_stream(client, auth, session, live_settings, revoke):
    """Signed out on another computer (or a new password, or the account disabled): the open stream
    stops at its next heartbeat instead of delivering notices until its lifetime."""
    live_settings(lifetime=600, heartbeat=0.2)
    auth.login("agent")
    response = _stream(client, "presence")
    assert response.status_code == 200
    chunks = iter(response.response)
    assert next(chunks).startswith(b"retry: ")
    revoke(session, _user(session, "agent"))
    session.commit()
    text, ended = "", False
    for beats, chunk in enumerate(chunks):
        text += chunk.decode() if isinstance(chunk, bytes) else chunk
        if beats > 50:  # still beating ten seconds (fifty heartbeats) later: it outlived its session
            break
    else:
        ended = True
    response.close()
    assert ended
    assert [e["event"] for e in _events(text)] == ["signed-out"]  # the page stops listening
    # The browser's reconnect is refused.
    assert _stream(client, "presence").status_code == 401
