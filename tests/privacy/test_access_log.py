"""The access log: one row for each kind of access to personal data, append-only (the ORM
refuses, and on PostgreSQL the database refuses too), kept for ACCESS_LOG_RETENTION by its
own job, and viewable, filterable and exportable only by admins and dataskydd."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from kontaktcenter.casework import search as ticket_search
from kontaktcenter.channels.tokens.service import create_token
from kontaktcenter.database import utcnow
from kontaktcenter.directory.models import User
from kontaktcenter.privacy import accesslog
from kontaktcenter.tickets.access import log_access
from kontaktcenter.tickets.models import AccessLog, AppendOnlyError
from kontaktcenter.worktime.periods import parse_period

PNR = "19900101-0017"


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _last_id(session) -> int:
    return session.scalar(select(func.coalesce(func.max(AccessLog.id), 0)))


def _since(session, last: int) -> list[AccessLog]:
    session.expire_all()
    return session.scalars(select(AccessLog).where(AccessLog.id > last).order_by(AccessLog.id)).all()


@pytest.fixture
def anna(make_contact):
    return make_contact(
        service="skolval",
        text="Fråga om skolval.",
        citizen_name="Anna Svensson",
        phone="0701234567",
        email="anna@example.se",
        personnummer=PNR,
    ).ticket


@pytest.fixture
def confidential(make_contact):
    return make_contact(service="forsorjningsstod", text="Hyran.", personnummer=PNR, phone="0701234567").ticket


# -- one row per access --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        (PNR, "personnummer 19900101-XXXX"),
        ("070-123 45 67", "phone +4670123XXXX"),
        ("Anna@Example.se", "email a***@example.se"),
    ],
)
def test_identifier_search_is_one_row_with_the_query_masked(session, anna, query, detail):
    last = _last_id(session)
    ticket_search.search(session, _user(session, "agent"), query)
    session.commit()
    rows = _since(session, last)
    assert [(r.action, r.detail, r.ticket_id) for r in rows] == [("search", detail, None)]
    assert "0017" not in rows[0].detail
    assert "1234567" not in rows[0].detail


def test_free_text_search_is_not_logged(session, anna):
    last = _last_id(session)
    ticket_search.search(session, _user(session, "agent"), "skolval")
    session.commit()
    assert _since(session, last) == []


def test_read_outside_own_work_is_one_row_with_the_reason(client, auth, session, anna):
    auth.login("bygglov")  # a caseworker of another department
    last = _last_id(session)
    assert client.get(f"/tickets/{anna.reference}").status_code == 302  # to the reason form
    auth.post(f"/tickets/{anna.reference}/skal", {"reason": "Medborgaren ringde om bygglovet"})
    assert client.get(f"/tickets/{anna.reference}").status_code == 200
    rows = _since(session, last)
    assert [(r.action, r.reason, r.ticket_id, r.user.username) for r in rows] == [
        ("read", "Medborgaren ringde om bygglovet", anna.id, "bygglov")
    ]


def test_read_of_a_confidential_ticket_is_one_row(client, auth, session, confidential):
    auth.login("handlaggare")
    last = _last_id(session)
    assert client.get(f"/tickets/{confidential.reference}").status_code == 200
    assert [(r.action, r.allowed, r.ticket_id) for r in _since(session, last)] == [("read", True, confidential.id)]


def test_denied_attempt_is_one_row(client, auth, session, confidential):
    auth.login("bygglov")
    last = _last_id(session)
    assert client.get(f"/tickets/{confidential.reference}").status_code == 404
    rows = _since(session, last)
    assert [(r.action, r.allowed, r.ticket_id, r.detail) for r in rows] == [
        ("read", False, confidential.id, confidential.reference)
    ]


def test_api_read_is_one_row_by_the_token(client, session, anna):
    token, raw = create_token(session, "Mina sidor", "tickets:read")
    session.commit()
    last = _last_id(session)
    response = client.get(
        f"/api/v1/tickets/{anna.reference}",
        headers={"Authorization": f"Bearer {raw}", "X-Receipt-Code": anna.receipt_code},
    )
    assert response.status_code == 200
    rows = _since(session, last)
    assert [(r.action, r.allowed, r.ticket_id, r.api_token_id, r.user_id) for r in rows] == [
        ("api_read", True, anna.id, token.id, None)
    ]


def test_wrong_receipt_code_on_the_api_is_one_denied_row(client, session, anna):
    token, raw = create_token(session, "Mina sidor", "tickets:read")
    session.commit()
    last = _last_id(session)
    response = client.get(
        f"/api/v1/tickets/{anna.reference}?receipt_code=WRONGCODE1", headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status_code == 404
    rows = _since(session, last)
    assert [(r.action, r.allowed, r.ticket_id, r.api_token_id) for r in rows] == [
        ("api_read", False, anna.id, token.id)
    ]


def test_open311_read_of_a_request_is_one_row(client, session, make_contact):
    ticket = make_contact(channel="open311", service="gatubelysning", text="Lampan är trasig.").ticket
    token, raw = create_token(session, "Felanmälan-appen", "open311")
    session.commit()
    last = _last_id(session)
    assert client.get(f"/open311/v2/requests/{ticket.reference}.json?api_key={raw}").status_code == 200
    assert client.get(f"/open311/v2/requests/{ticket.reference}.json").status_code == 200  # anonymous client
    rows = _since(session, last)
    assert [(r.action, r.ticket_id, r.api_token_id, r.user_id) for r in rows] == [
        ("open311_read", ticket.id, token.id, None),
        ("open311_read", ticket.id, None, None),
    ]


def test_registerutdrag_export_is_one_row(client, auth, session, anna):
    auth.login("dataskydd")
    last = _last_id(session)
    response = auth.post(
        "/admin/registerutdrag", {"personnummer": PNR, "format": "json"}, csrf_page="/admin/registerutdrag"
    )
    assert response.status_code == 200
    assert [(r.action, r.detail) for r in _since(session, last)] == [("registerutdrag", "personnummer 19900101-XXXX")]


def test_csv_export_is_excel_friendly_and_itself_logged(client, auth, session, anna):
    log_access(session, _user(session, "agent"), anna, "read", reason='=HYPERLINK("http://x")')
    session.commit()
    auth.login("dataskydd")
    last = _last_id(session)
    response = auth.post(
        "/admin/atkomstlogg", {"reference": anna.reference, "format": "csv"}, csrf_page="/admin/atkomstlogg"
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 byte order mark: Excel reads å, ä, ö
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == ";".join(accesslog.COLUMNS)
    assert len(lines) == 2
    assert anna.reference in lines[1]
    assert ";read;ja;" in lines[1]
    assert "'=HYPERLINK" in lines[1]  # a formula is never run by the spreadsheet
    assert [(r.action, r.detail) for r in _since(session, last)] == [("export_access_log", "1 rader")]


# -- the viewer ------------------------------------------------------------------------------


def test_viewer_filters_by_person_without_the_value_in_the_url_or_log(client, auth, session, anna, make_contact):
    other = make_contact(service="skolval", text="Annan fråga.", phone="0709999999").ticket
    agent = _user(session, "agent")
    log_access(session, agent, anna, "read", reason="Annas ärende")
    log_access(session, agent, other, "read", reason="Någon annans ärende")
    session.commit()
    auth.login("dataskydd")
    last = _last_id(session)
    response = auth.post("/admin/atkomstlogg", {"personnummer": PNR}, csrf_page="/admin/atkomstlogg")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Annas ärende" in page
    assert "Någon annans ärende" not in page
    # The look-up is itself a masked identifier search.
    assert [(r.action, r.detail) for r in _since(session, last)] == [
        ("search_access_log", "personnummer 19900101-XXXX")
    ]
    # A person in the query string is ignored (it would land in server logs).
    page = client.get(f"/admin/atkomstlogg?personnummer={PNR}").get_data(as_text=True)
    assert "Någon annans ärende" in page


def test_viewer_filters_by_user_ticket_and_period(client, auth, session, anna):
    agent, chef = _user(session, "agent"), _user(session, "chef")
    log_access(session, agent, anna, "read", reason="igår", at=utcnow() - timedelta(days=1))
    log_access(session, agent, anna, "read", reason="förra året", at=utcnow() - timedelta(days=400))
    log_access(session, chef, anna, "read", reason="chefens")
    session.commit()
    auth.login("admin")
    page = client.get(f"/admin/atkomstlogg?user=agent&reference={anna.reference}").get_data(as_text=True)
    assert "igår" in page
    assert "förra året" in page
    assert "chefens" not in page
    start = (utcnow() - timedelta(days=30)).date().isoformat()
    page = auth.post("/admin/atkomstlogg", {"user": "agent", "from": start}, csrf_page="/admin/atkomstlogg").get_data(
        as_text=True
    )
    assert "igår" in page
    assert "förra året" not in page


@pytest.mark.parametrize(
    "data", [{"from": "igår"}, {"from": "2026-05-01", "to": "2026-04-01"}, {"personnummer": "123"}]
)
def test_viewer_bad_filter_says_why_and_logs_nothing(client, auth, session, data):
    auth.login("dataskydd")
    last = _last_id(session)
    response = auth.post("/admin/atkomstlogg", data, csrf_page="/admin/atkomstlogg")
    assert response.status_code == 400
    assert 'role="alert"' in response.get_data(as_text=True)
    assert _since(session, last) == []


def test_viewer_pages(client, auth, session, anna):
    agent = _user(session, "agent")
    for n in range(accesslog_page_size() + 5):
        log_access(session, agent, anna, "read", reason=f"rad {n:03d}", at=utcnow() - timedelta(minutes=n))
    session.commit()
    auth.login("dataskydd")
    first = client.get(f"/admin/atkomstlogg?reference={anna.reference}").get_data(as_text=True)
    assert "rad 000" in first
    assert "rad 104" not in first
    assert 'name="page" value="2"' in first
    second = auth.post(
        "/admin/atkomstlogg", {"reference": anna.reference, "page": "2"}, csrf_page="/admin/atkomstlogg"
    ).get_data(as_text=True)
    assert "rad 104" in second
    assert "rad 000" not in second


def accesslog_page_size() -> int:
    from kontaktcenter.privacy.views import PAGE_SIZE

    return PAGE_SIZE


@pytest.mark.parametrize("username", ["agent", "handlaggare", "samordnare", "chef", "bibliotek"])
def test_others_get_403_on_the_viewer(client, auth, session, username):
    auth.login(username)
    assert client.get("/admin/atkomstlogg").status_code == 403
    assert client.get("/admin/registerutdrag").status_code == 403


# -- append-only -----------------------------------------------------------------------------


def _row(session, anna) -> AccessLog:
    log_access(session, _user(session, "agent"), anna, "read", reason="läste")
    session.commit()
    return session.scalar(select(AccessLog).order_by(AccessLog.id.desc()).limit(1))


def test_orm_refuses_to_change_a_row(session, anna):
    row = _row(session, anna)
    row.reason = "något annat"
    with pytest.raises(AppendOnlyError):
        session.flush()
    session.rollback()
    assert session.get(AccessLog, row.id).reason == "läste"


def test_orm_refuses_to_delete_a_row(session, anna):
    row = _row(session, anna)
    session.delete(row)
    with pytest.raises(AppendOnlyError):
        session.flush()
    session.rollback()
    assert session.get(AccessLog, row.id) is not None


def test_orm_refuses_bulk_update_and_delete(session, anna):
    row = _row(session, anna)
    with pytest.raises(AppendOnlyError):
        session.execute(update(AccessLog).where(AccessLog.id == row.id).values(reason="x"))
    with pytest.raises(AppendOnlyError):
        session.execute(delete(AccessLog).where(AccessLog.id == row.id))
    session.rollback()
    assert session.get(AccessLog, row.id).reason == "läste"


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement", ["UPDATE access_log SET reason = 'ändrad' WHERE id = :id", "DELETE FROM access_log WHERE id = :id"]
)
def test_postgres_refuses_raw_update_and_delete(session, anna, statement):
    row = _row(session, anna)
    nested = session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text(statement), {"id": row.id})
    nested.rollback()
    session.expire_all()
    assert session.get(AccessLog, row.id).reason == "läste"


@pytest.mark.postgres
def test_postgres_refuses_truncate(session, anna):
    _row(session, anna)
    nested = session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("TRUNCATE access_log"))
    nested.rollback()
    assert session.scalar(select(func.count()).select_from(AccessLog)) >= 1


# -- retention ---------------------------------------------------------------------------------


def test_retention_removes_only_rows_past_the_period(app, session, anna):
    now = datetime(2027, 6, 1, 1, 45, tzinfo=UTC)
    agent = _user(session, "agent")
    log_access(session, agent, anna, "read", reason="för gammal", at=now - timedelta(days=2 * 365 + 2))
    log_access(session, agent, anna, "read", reason="nästan två år", at=now - timedelta(days=2 * 365 - 2))
    log_access(session, agent, anna, "read", reason="ny", at=now - timedelta(days=1))
    session.commit()
    from kontaktcenter.privacy.jobs import access_log_retention_job

    with app.app_context():
        access_log_retention_job(session, now)
    session.commit()
    reasons = set(session.scalars(select(AccessLog.reason).where(AccessLog.ticket_id == anna.id)))
    assert reasons == {"nästan två år", "ny"}
    # Afterwards the guard is back: nothing else deletes.
    with pytest.raises(AppendOnlyError):
        session.execute(delete(AccessLog).where(AccessLog.ticket_id == anna.id))
    session.rollback()
    if session.get_bind().dialect.name == "postgresql":
        nested = session.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text("DELETE FROM access_log WHERE ticket_id = :id"), {"id": anna.id})
        nested.rollback()


def test_retention_period_is_configured_and_checked(app):
    from kontaktcenter.config import ConfigError, load_config

    assert parse_period(app.config["ACCESS_LOG_RETENTION"]).text == "P2Y"
    assert load_config(environ={"ACCESS_LOG_RETENTION": "P3Y"})["ACCESS_LOG_RETENTION"] == "P3Y"
    with pytest.raises(ConfigError, match="ACCESS_LOG_RETENTION"):
        load_config(environ={"ACCESS_LOG_RETENTION": "två år"})


def test_retention_job_is_scheduled():
    from kontaktcenter.scheduling.jobs import JOBS, discover_jobs

    discover_jobs()
    assert "privacy.access_log_retention" in JOBS


def test_linking_a_contact_keeps_its_access_log_rows_under_the_target(session, make_contact):
    """The one UPDATE the log allows: the rows follow a contact linked into another ticket
    (the database trigger lets the ticket change, nothing else)."""
    from kontaktcenter.intake.placement import link_contact

    target = make_contact(service="allmant", text="Första samtalet.", phone="0701234567").ticket
    source = make_contact(service="allmant", text="Samma person igen.", phone="0701234567").ticket
    agent = _user(session, "agent")
    log_access(session, agent, source, "read", reason="samtalet")
    session.commit()
    row_id = _last_id(session)
    link_contact(session, source, target, agent)
    session.commit()
    session.expire_all()
    row = session.get(AccessLog, row_id)
    assert (row.ticket_id, row.reason, row.action) == (target.id, "samtalet", "read")
