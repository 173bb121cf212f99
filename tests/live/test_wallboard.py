"""/wallboard: per queue, who waits now, who is free, and today's answered calls and service
level, against a hand-computed day."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from kontaktcenter.contacts.models import Contact
from kontaktcenter.directory.models import Queue, User, user_queues
from kontaktcenter.live.wallboard import figures, minutes_seconds
from tests.fixtures.factories import at

QUEUE = "kc-flersprakig"
NOW = "2026-03-03 10:00"  # the pinned clock (tests/fixtures/twilio.py)


@pytest.fixture
def day(session, make_contact, make_user, clock, service_by_code):
    """The hand-computed day in kc-flersprakig, the clock at 10:00 on Tuesday 3 March 2026.

    | call | arrived  | outcome            | wait   | counts as                                   |
    | A    | 08:00:00 | answered           | 30 s   | offered, answered, within the 60 s target   |
    | B    | 08:10:00 | answered           | 200 s  | offered, answered, not within target        |
    | C    | 08:20:00 | abandoned          | 3 s    | short abandon (< 5 s): not offered          |
    | D    | 08:30:00 | abandoned          | 100 s  | offered, abandoned                          |
    | E    | 08:40:00 | callback_requested | 50 s   | offered; a callback still to make           |
    | F    | Monday   | answered           | 10 s   | yesterday: not today                        |
    | W1   | 09:58:00 | (waiting)          |        | waiting now, the longest: 2:00              |
    | W2   | 09:59:30 | (waiting)          |        | waiting now                                 |

    Offered today 4 (A, B, D, E), answered 2, within target 1: service level 1/4 = 25 %.
    Agents in the queue: 2 available, 1 busy, 1 away, 1 offline (not shown).
    """
    queue = session.scalar(select(Queue).where(Queue.code == QUEUE))
    service = service_by_code("allmant")
    assert service.answer_target_seconds == 60
    session.execute(
        update(User)
        .where(User.id.in_(select(user_queues.c.user_id).where(user_queues.c.queue_id == queue.id)))
        .values(presence="offline")
    )
    rows = [
        ("A", "2026-03-03 08:00:00", "answered", 30),
        ("B", "2026-03-03 08:10:00", "answered", 200),
        ("C", "2026-03-03 08:20:00", "abandoned", 3),
        ("D", "2026-03-03 08:30:00", "abandoned", 100),
        ("E", "2026-03-03 08:40:00", "callback_requested", 50),
        ("F", "2026-03-02 12:00:00", "answered", 10),
        ("W1", "2026-03-03 09:58:00", None, None),
        ("W2", "2026-03-03 09:59:30", None, None),
    ]
    contacts = {}
    for n, (name, arrived, outcome, wait) in enumerate(rows):
        received = make_contact("phone", "allmant", phone=f"+4670555{n:04d}", arrived_at=at(arrived))
        contact = session.get(Contact, received.contact.id)
        contact.queue_id = queue.id
        contact.ticket.queue_id = queue.id
        contact.outcome = outcome
        if outcome is not None:
            left = contact.arrived_at + timedelta(seconds=wait)
            contact.wait_seconds = float(wait)
            if outcome == "answered":
                contact.answered_at = left
            contact.ended_at = left if outcome != "answered" else left + timedelta(minutes=3)
        contacts[name] = contact
    for presence in ("available", "available", "busy", "away", "offline"):
        make_user("agent", queues=[QUEUE], presence=presence)
    session.commit()
    return queue, contacts


def _figures(session, queue):
    return figures(
        session,
        [queue],
        at(NOW),
        max_callback_attempts=3,
        short_abandon_seconds=5,
        service_level_target=0.8,
    )[0]


def test_the_wallboard_figures_match_the_hand_computed_day(session, day):
    queue, _ = day
    f = _figures(session, queue)
    assert (f.waiting, f.longest_wait_seconds, f.callbacks_pending) == (2, 120, 1)
    assert (f.agents_free, f.agents_busy, f.agents_away) == (2, 1, 1)
    assert (f.answered_today, f.offered_today, f.answered_within_target_today) == (2, 4, 1)
    assert f.service_level_today == 0.25
    assert f.below_target


def test_a_reached_callback_leaves_the_pending_count(session, day):
    queue, contacts = day
    contacts["E"].callback_completed_at = at("2026-03-03 09:00")
    session.commit()
    assert _figures(session, queue).callbacks_pending == 0


def test_an_empty_day_shows_no_service_level_rather_than_zero(session, clock):
    queue = session.scalar(select(Queue).where(Queue.code == "kc-lokal-service"))
    f = _figures(session, queue)
    assert f.offered_today == 0
    assert f.service_level_today is None
    assert not f.below_target


def test_wait_as_the_wall_shows_it():
    assert minutes_seconds(None) == "–"
    assert minutes_seconds(5) == "0:05"
    assert minutes_seconds(125) == "2:05"
    assert minutes_seconds(3723) == "1:02:03"


def _section(html: str, queue_id: int) -> str:
    match = re.search(rf'<section[^>]*aria-labelledby="wq-{queue_id}".*?</section>', html, re.S)
    assert match, "no section for the queue"
    return re.sub(r"\s+", " ", match.group(0))


def test_the_page_shows_the_day_to_a_manager(client, auth, day):
    queue, _ = day
    auth.login("chef")
    html = client.get("/wallboard").get_data(as_text=True)
    section = _section(html, queue.id)
    for label, value in [
        ("Väntar nu", "2"),
        ("Längst väntat", "2:00"),
        ("Återuppringningar", "1"),
        ("Lediga", "2"),
        ("I samtal", "1"),
        ("Borta", "1"),
        ("Besvarade i dag", "2"),
    ]:
        assert f"<dt>{label}</dt><dd>{value}</dd>" in section.replace("> <", "><"), label
    assert "25 %" in section
    assert "under målet" in section
    assert 'id="live"' in html  # follows the feed
    assert '<header class="site-header' in html


def test_kiosk_mode_has_no_staff_header(client, auth, day):
    auth.login("chef")
    html = client.get("/wallboard?kiosk=1").get_data(as_text=True)
    assert '<header class="site-header' not in html
    assert "Logga ut" not in html
    assert "Väntar nu" in html
    assert 'http-equiv="refresh"' in html  # inside <noscript>: a wall screen without JavaScript reloads itself


def test_the_page_in_english(client, auth, day):
    auth.login("chef")
    html = client.get("/wallboard?lang=en").get_data(as_text=True)
    assert "Waiting now" in html
    assert "Service level today" in html


def test_an_agent_sees_the_first_line_and_their_own_queues_only(client, auth, session, clock):
    auth.login("agent")
    html = client.get("/wallboard").get_data(as_text=True)
    first_line = session.scalar(select(Queue).where(Queue.code == "kc-forsta-linjen"))
    secret = session.scalar(select(Queue).where(Queue.code == "asf-forsorjningsstod"))
    assert f'wq-{first_line.id}"' in html
    assert f'wq-{secret.id}"' not in html


def test_a_coordinator_sees_their_departments_queues(client, auth, session, clock):
    auth.login("samordnare")  # asf
    html = client.get("/wallboard").get_data(as_text=True)
    asf = session.scalar(select(Queue).where(Queue.code == "asf-arbetsmarknad"))
    first_line = session.scalar(select(Queue).where(Queue.code == "kc-forsta-linjen"))
    assert f'wq-{asf.id}"' in html
    assert f'wq-{first_line.id}"' not in html


@pytest.mark.parametrize("username", ["handlaggare", "bibliotek", "dataskydd"])
def test_others_may_not_open_the_wallboard(client, auth, username):
    auth.login(username)
    assert client.get("/wallboard").status_code == 403


def test_a_stranger_is_sent_to_sign_in(client):
    response = client.get("/wallboard")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_bad_input_on_the_wallboard_changes_nothing(client, auth, session, clock):
    auth.login("chef")
    assert client.get("/wallboard?kiosk=%00").status_code == 400
    assert client.get("/wallboard?kiosk=" + "1" * 5000).status_code == 200  # ignored, the normal page
