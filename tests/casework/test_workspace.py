"""The console as a workspace (issue 21): filters, paging with a total, channel and language
columns, "Skicka och lös" and the next ticket, returned escalations, codes in words, and the
inbox agreeing with the console. Each test names the defect it would have caught."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from kontaktcenter.casework import workspace
from kontaktcenter.casework.models import Escalation
from kontaktcenter.database import utcnow
from kontaktcenter.directory.models import Queue, Service, User
from kontaktcenter.notify.email import OUTBOX_KEY
from kontaktcenter.tickets.models import Message, Ticket

FIRST_LINE = "kc-forsta-linjen"


def _user(session, username):
    return session.scalar(select(User).where(User.username == username))


def _queue_tickets(page: str) -> list[str]:
    """The references listed under "Ärenden i mina köer" (the filtered, paged list)."""
    part = page.split('id="queue-tickets"', 1)[1]
    return re.findall(r'<a href="/tickets/(KC-[0-9-]+)"', part)


@pytest.fixture
def mixed(make_contact, everyone_away, session):
    """Waiting tickets in agent2's queues: web in Swedish, SMS in Arabic (the multilingual queue), web in English."""
    agent2 = _user(session, "agent2")
    agent2.queues = [*agent2.queues, session.scalar(select(Queue).where(Queue.code == "kc-flersprakig"))]
    session.commit()
    web = make_contact(service="allmant", text="Fråga om sophämtning").ticket
    sms = make_contact(channel="sms", service="allmant", phone="0701112233", language="ar", text="سؤال").ticket
    english = make_contact(service="bygglov", language="en", text="A question about a fence").ticket
    return web, sms, english


# -- filters, paging, columns ------------------------------------------------------


def test_console_filters_by_channel_language_and_service_in_a_get_form(client, auth, session, mixed):
    web, sms, english = mixed
    auth.login("agent2")
    everything = client.get("/console").get_data(as_text=True)
    assert {web.reference, sms.reference, english.reference} <= set(_queue_tickets(everything))
    assert '<form method="get" action="/console" class="filters"' in everything

    by_channel = client.get("/console?channel=sms").get_data(as_text=True)
    assert _queue_tickets(by_channel) == [sms.reference]
    assert "1–1 av 1" in by_channel

    by_language = client.get("/console?language=en").get_data(as_text=True)
    assert _queue_tickets(by_language) == [english.reference]

    bygglov = session.scalar(select(Service).where(Service.code == "bygglov"))
    by_service = client.get(f"/console?service={bygglov.id}").get_data(as_text=True)
    assert _queue_tickets(by_service) == [english.reference]


def test_console_shows_channel_and_language_in_words(client, auth, mixed):
    _web, sms, _english = mixed
    auth.login("agent2")
    page = client.get("/console?channel=sms").get_data(as_text=True)
    row = page.split(f">{sms.reference}</a>", 1)[1].split("</tr>", 1)[0]
    assert re.search(r'data-label="Kanal">SMS<', row)
    assert re.search(r'data-label="Språk">arabiska<', row)


def test_console_filters_by_status_and_sla(client, auth, session, mixed):
    web, sms, english = mixed
    session.execute(update(Ticket).where(Ticket.id == web.id).values(sla_breached=True))
    # Due within the at-risk window (4 working hours by default), not yet breached.
    soon = utcnow() + timedelta(hours=1)
    session.execute(update(Ticket).where(Ticket.id == sms.id).values(resolve_due_at=soon))
    session.commit()
    auth.login("agent2")
    assert _queue_tickets(client.get("/console?sla=breached").get_data(as_text=True)) == [web.reference]
    at_risk = _queue_tickets(client.get("/console?sla=at_risk").get_data(as_text=True))
    assert sms.reference in at_risk
    assert web.reference not in at_risk
    assert _queue_tickets(client.get("/console?status=escalated").get_data(as_text=True)) == []


def test_console_says_how_many_of_how_many_and_pages(app, client, auth, session, monkeypatch, mixed):
    """Before: 200 of 4,348 tickets shown without saying so. Now: "1–2 av 3" and a next page."""
    monkeypatch.setitem(app.config, "workspace", {**app.config["workspace"], "page_size": 2})
    auth.login("agent2")
    first = client.get("/console").get_data(as_text=True)
    total = len(_queue_tickets(client.get("/console?page=1").get_data(as_text=True)))
    assert total == 2
    count = re.search(r'id="list-count">1–2 av (\d+)<', first)
    assert count, "the list says which rows of how many it shows"
    n = int(count.group(1))
    assert n >= 3
    assert 'rel="next"' in first
    second = client.get("/console?page=2").get_data(as_text=True)
    assert re.search(rf'id="list-count">3–{min(4, n)} av {n}<', second)
    assert set(_queue_tickets(second)).isdisjoint(_queue_tickets(first))
    # Filters travel with the page links.
    filtered = client.get("/console?status=new").get_data(as_text=True)
    if 'rel="next"' in filtered:
        assert re.search(r'href="/console\?[^"]*status=new[^"]*page=2"', filtered)


def test_console_counts_in_the_database_with_thousands_in_words(session, make_user, mixed):
    agent = _user(session, "agent2")
    page = workspace.console_page(
        session, agent, workspace.ConsoleFilter(page=2), page_size=1, at_risk=timedelta(hours=4)
    )
    assert (page.first, page.last, page.page) == (2, 2, 2)
    assert page.total >= 3
    assert page.pages == page.total
    # A page past the end shows the last page, not an empty list.
    beyond = workspace.console_page(
        session, agent, workspace.ConsoleFilter(page=999), page_size=1, at_risk=timedelta(hours=4)
    )
    assert beyond.page == beyond.pages


@pytest.mark.parametrize(
    "query",
    [
        "channel=fax",
        "language=xx",
        "queue=abc",
        "queue=999999",
        "service=0",
        "status=resolved",
        "sla=soon",
        "page=0",
        "page=abc",
        "channel=" + "s" * 200,
    ],
)
def test_bad_console_filters_are_refused_with_a_message(client, auth, mixed, query):
    auth.login("agent2")
    response = client.get(f"/console?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="filter-error"' in page
    assert "Välj i listan" in page or "Sidnumret" in page


def test_a_nul_byte_in_a_filter_is_refused(client, auth, mixed):
    auth.login("agent2")
    assert client.get("/console?channel=sms%00").status_code == 400


def test_console_filter_is_staff_only(client, auth):
    assert client.get("/console?channel=sms").headers["Location"].startswith("/login")
    auth.login("bibliotek")
    assert client.get("/console?channel=sms").status_code == 403


def test_confidential_ticket_is_neither_listed_nor_counted_for_an_agent_who_may_not_read_it(
    client, auth, session, everyone_away, make_contact
):
    secret = make_contact(service="forsorjningsstod", text="Hyra", phone="0701234567", reply_channel="sms").ticket
    assert secret.confidential
    agent = _user(session, "agent2")
    queue = session.get(Queue, secret.queue_id)
    agent.queues = [*agent.queues, queue]
    session.commit()
    page = workspace.console_page(
        session, agent, workspace.ConsoleFilter(queue_id=queue.id), page_size=50, at_risk=timedelta(hours=4)
    )
    assert secret.id not in [t.id for t in page.tickets]
    assert page.total == len(page.tickets)


# -- Skicka och lös, then the next ticket -------------------------------------------------


def test_send_and_resolve_is_one_save_and_opens_the_next_ticket(app, client, auth, session, mixed):
    """Before: 4 clicks and 3 page loads, and no next ticket after resolving."""
    web, sms, _english = mixed
    ticket = web
    session.execute(update(Ticket).where(Ticket.id == ticket.id).values(reply_channel="email", reply_to="a@example.se"))
    session.commit()
    outbox = app.extensions.setdefault(OUTBOX_KEY, [])
    outbox.clear()
    auth.login("agent2")
    auth.post(f"/tickets/{ticket.reference}/take")
    response = auth.post(
        f"/tickets/{ticket.reference}/reply-resolve", {"kind": "reply", "body": "Tisdagar.", "then": "next"}
    )
    assert response.status_code == 302
    session.refresh(ticket)
    assert ticket.status == "resolved"
    assert [m.body for m in ticket.messages if m.kind == "reply"] == ["Tisdagar."]
    assert [m["To"] for m in outbox] == ["a@example.se"]
    # Straight on to the next ticket, claimed for this agent as "Ta nästa ärende" claims it.
    following = response.headers["Location"]
    reference = re.search(r"/tickets/(KC-[0-9-]+)", following).group(1)
    assert reference != ticket.reference
    nxt = session.scalar(select(Ticket).where(Ticket.reference == reference))
    session.refresh(nxt)
    assert nxt.assignee_id == _user(session, "agent2").id
    assert "Svaret är skickat och ärendet är löst." in client.get(following).get_data(as_text=True)


def test_send_and_resolve_without_a_required_reason_sends_nothing(client, auth, session, everyone_away, make_contact):
    call = make_contact(channel="phone", service="allmant", phone="0701234567").ticket
    auth.login("agent2")
    auth.post(f"/tickets/{call.reference}/take")
    response = auth.post(
        f"/tickets/{call.reference}/reply-resolve", {"kind": "note", "body": "Ringt upp.", "then": "next"}
    )
    assert response.status_code == 302
    assert "kontaktorsak" in client.get(response.headers["Location"]).get_data(as_text=True)
    session.refresh(call)
    assert call.status != "resolved"
    assert session.scalar(select(Message).where(Message.ticket_id == call.id, Message.kind == "note")) is None


def test_two_agents_resolving_at_once_never_get_the_same_next_ticket(client, app, auth, session, mixed):
    web, sms, english = mixed
    agent = _user(session, "agent")
    agent.queues = list(_user(session, "agent2").queues)
    session.commit()
    other = app.test_client()
    from tests.conftest import AuthActions

    second = AuthActions(other)
    auth.login("agent2")
    second.login("agent")
    auth.post(f"/tickets/{web.reference}/take")
    second.post(f"/tickets/{sms.reference}/take")
    one = auth.post(f"/tickets/{web.reference}/resolve", {"then": "next"}).headers["Location"]
    two = second.post(f"/tickets/{sms.reference}/resolve", {"then": "next"}).headers["Location"]
    assert one != two
    assert "/tickets/" in one


def test_resolve_without_next_stays_on_the_ticket(client, auth, session, mixed):
    web, _sms, _english = mixed
    auth.login("agent2")
    auth.post(f"/tickets/{web.reference}/take")
    response = auth.post(f"/tickets/{web.reference}/resolve")
    assert response.headers["Location"].endswith(f"/tickets/{web.reference}")


def test_stranger_and_other_role_cannot_send_and_resolve(client, auth, session, mixed):
    web, _sms, _english = mixed
    from tests.conftest import csrf_token

    token = csrf_token(client, "/kontakt")
    response = client.post(f"/tickets/{web.reference}/reply-resolve", data={"body": "x", "csrf_token": token})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    auth.login("bibliotek")
    assert (
        auth.post(f"/tickets/{web.reference}/reply-resolve", {"body": "x"}, csrf_page="/konto/losenord").status_code
        == 403
    )
    session.refresh(web)
    assert web.is_open
    assert not web.messages


# -- returned escalations ------------------------------------------------------------


def test_returned_escalation_goes_back_to_the_agent_flagged_with_a_notice(
    client, auth, session, everyone_away, make_contact
):
    """Before: a returned escalation came back unassigned, in no list, and nobody was told."""
    ticket = make_contact(service="bygglov", text="Parkering", email="p@example.se", reply_channel="email").ticket
    auth.login("agent")
    auth.post(f"/tickets/{ticket.reference}/take")
    queue = session.scalar(select(Queue).where(Queue.code == "sbk-bygglov"))
    auth.post(
        f"/tickets/{ticket.reference}/escalate",
        {"citizen_wants": "Parkeringstillstånd", "queue": queue.id, "urgency": "normal"},
    )
    auth.logout()
    escalation = session.scalar(select(Escalation).where(Escalation.ticket_id == ticket.id))
    auth.login("bygglov")
    auth.post(f"/escalations/{escalation.id}/return", {"reason": "Gäller parkering, inte bygglov."})
    auth.logout()

    session.refresh(ticket)
    assert ticket.assignee.username == "agent"
    auth.login("agent")
    console = client.get("/console").get_data(as_text=True)
    assert 'id="returned-heading"' in console
    assert "1 ärende har kommit tillbaka till dig" in console
    mine = console.split("Mina ärenden", 1)[1].split('id="queue-tickets"', 1)[0]
    assert ticket.reference in mine
    assert "Återkommen från" in mine
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert 'id="returned-notice"' in page
    assert "Gäller parkering, inte bygglov." in page


# -- codes in words ------------------------------------------------------------------


def test_needs_are_in_words_with_the_interpreter_language(client, auth, everyone_away, make_contact):
    """Before: "Behov: interpreter, easy_read" and no interpreter language."""
    ticket = make_contact(
        service="allmant", text="Hjälp", needs=["interpreter", "easy_read"], interpreter_language="ar"
    ).ticket
    auth.login("agent2")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    contacts = page.split("<h2>Kontakter</h2>", 1)[1].split("<h2>", 1)[0]
    assert "Tolk: arabiska" in contacts
    assert "Lätt svenska" in contacts
    assert "interpreter" not in contacts
    assert "easy_read" not in contacts
    assert "Behov:" not in contacts


def test_event_kinds_and_statuses_are_in_words(client, auth, mixed):
    web, _sms, _english = mixed
    auth.login("agent2")
    auth.post(f"/tickets/{web.reference}/take")
    page = client.get(f"/tickets/{web.reference}").get_data(as_text=True)
    events = page.split("Händelser", 1)[1]
    assert "Ärendet skapades" in events
    assert "Handläggare ändrad" in events
    assert not re.search(r">(created|assigned|status|routed)<", events)


def test_a_callback_without_a_number_says_so_instead_of_tel_none(client, auth, session, everyone_away, make_contact):
    ticket = make_contact(channel="phone", service="allmant", text="").ticket
    session.execute(update(Ticket).where(Ticket.id == ticket.id).values(kind="callback"))
    session.commit()
    auth.login("agent2")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert "tel:None" not in page
    assert "tel:" not in page.split("callback-number", 1)[1].split("</p>", 1)[0]
    assert "Numret är dolt" in page


def test_a_callback_with_a_number_links_it(client, auth, session, everyone_away, make_contact):
    ticket = make_contact(channel="phone", service="allmant", phone="0701234567", text="").ticket
    session.execute(update(Ticket).where(Ticket.id == ticket.id).values(kind="callback"))
    session.commit()
    auth.login("agent2")
    page = client.get(f"/tickets/{ticket.reference}").get_data(as_text=True)
    assert 'href="tel:+46701234567"' in page


# -- the inbox agrees with the console ----------------------------------------------------


def test_inbox_lists_what_the_console_shows_as_escalated_to_the_department(client, auth, session, make_contact):
    """Before: the demo's imported escalations (no handover row) filled the console but not the inbox."""
    ticket = make_contact(service="bygglov", text="Plank").ticket
    queue = session.scalar(select(Queue).where(Queue.code == "sbk-bygglov"))
    # As imported history writes it: escalated, in the department's queue, without a handover.
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id)
        .values(status="escalated", escalated=True, queue_id=queue.id, assignee_id=None)
    )
    session.commit()
    auth.login("bygglov")
    inbox = client.get("/inkorg").get_data(as_text=True)
    assert ticket.reference in inbox
    assert "ingen överlämning" in inbox
    # Accepting it takes it (no handover row to accept).
    response = auth.post(f"/tickets/{ticket.reference}/take")
    assert response.status_code == 302
    session.refresh(ticket)
    assert ticket.status == "open"
    assert ticket.assignee.username == "bygglov"


def test_inbox_of_another_department_does_not_list_it(client, auth, session, make_contact):
    ticket = make_contact(service="bygglov", text="Plank").ticket
    queue = session.scalar(select(Queue).where(Queue.code == "sbk-bygglov"))
    session.execute(update(Ticket).where(Ticket.id == ticket.id).values(status="escalated", queue_id=queue.id))
    session.commit()
    auth.login("handlaggare")  # Arbetsmarknads- och socialförvaltningen
    assert ticket.reference not in client.get("/inkorg").get_data(as_text=True)
