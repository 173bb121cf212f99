"""The switchboard's pages: who may search, who may keep which department's entries, and
what bad input does (a clear error and no change)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kontaktcenter.database import utcnow


@pytest.fixture
def entries(make_staff, session):
    anna = make_staff(
        "Anna Svensson", title="Socialsekreterare", dept="asf", phone="+46403460001", keywords="försörjningsstöd"
    )
    away = make_staff(
        "Karin Berg",
        title="Enhetschef",
        dept="asf",
        absent_until=utcnow() + timedelta(days=5),
        absence_message="Karin är på konferens.",
        alternative=anna,
    )
    sara = make_staff("Sara Nilsson", title="Bibliotekarie", dept="kultur", unit="Stadsbiblioteket")
    session.commit()
    return {"anna": anna, "away": away, "sara": sara}


def page(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("user", "status"),
    [("agent", 200), ("handlaggare", 200), ("samordnare", 200), ("bibliotek", 200), ("dataskydd", 403)],
)
def test_who_may_search_the_directory(auth, client, entries, user, status):
    auth.login(user)
    assert client.get("/vaxel?q=Anna").status_code == status


def test_a_stranger_is_sent_to_sign_in(client, entries):
    response = client.get("/vaxel?q=Anna")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert client.get("/vaxel/katalog").status_code == 302


def test_an_agent_finds_a_colleague_despite_a_typo_with_title_department_and_phone(auth, client, entries):
    auth.login("agent")
    html = page(client.get("/vaxel?q=Ana+Svenson"))
    assert "Anna Svensson" in html
    assert "Socialsekreterare" in html
    assert "+46403460001" in html
    assert "Arbetsmarknads" in html or "asf" in html.lower()


def test_an_absence_notice_is_shown_with_the_alternative(auth, client, entries):
    auth.login("agent")
    html = page(client.get("/vaxel?q=Karin+Berg"))
    assert "Frånvarande" in html
    assert "Karin är på konferens." in html
    assert "Hänvisning: Anna Svensson, Socialsekreterare" in html


@pytest.mark.parametrize("query", ["Anna" * 100, "Anna\x00"])
def test_bad_search_input_is_a_clear_error(auth, client, entries, query):
    auth.login("agent")
    response = client.get("/vaxel", query_string={"q": query})
    assert response.status_code == 400


def test_an_unknown_department_filter_is_a_clear_error(auth, client, entries):
    auth.login("agent")
    response = client.get("/vaxel?q=Anna&department=nope")
    assert response.status_code == 400
    assert "Okänd förvaltning" in page(response)


def test_the_coordinator_keeps_their_own_departments_entries(auth, client, session, entries):
    auth.login("samordnare")
    html = page(client.get("/vaxel/katalog"))
    assert "Anna Svensson" in html
    assert "Sara Nilsson" not in html
    anna = entries["anna"]
    response = auth.post(
        f"/vaxel/katalog/{anna.id}",
        {
            "title": "Socialsekreterare",
            "unit": "Ekonomiskt bistånd",
            "phone": "040-34 60 09",
            "email": "anna@malmo.se",
            "keywords": "försörjningsstöd, bistånd",
            "absent_until": "2027-01-15",
            "absence_message": "Anna har semester.",
            "alternative_id": str(entries["away"].id),
        },
    )
    assert response.status_code == 302
    session.refresh(anna)
    assert anna.phone == "+4640346009"
    assert anna.keywords == "försörjningsstöd, bistånd"
    assert anna.absence_message == "Anna har semester."
    assert anna.alternative_id == entries["away"].id


def test_a_coordinator_of_another_department_is_refused_and_nothing_changes(auth, client, session, entries):
    auth.login("kultursamordnare")
    anna = entries["anna"]
    assert client.get(f"/vaxel/katalog/{anna.id}").status_code == 404
    assert client.get("/vaxel/katalog?department=asf").status_code == 404
    response = auth.post(f"/vaxel/katalog/{anna.id}", {"title": "Kapad", "phone": "040-34 60 01"})
    assert response.status_code == 404
    response = auth.post(f"/vaxel/katalog/{anna.id}/aktiv", {"active": "0"})
    assert response.status_code == 404
    response = auth.post("/vaxel/katalog/ny", {"department": "asf", "employee_id": "X1", "name": "Intrång"})
    assert response.status_code == 404
    session.refresh(anna)
    assert anna.title == "Socialsekreterare"
    assert anna.active


@pytest.mark.parametrize("user", ["agent", "handlaggare", "chef"])
def test_who_is_not_a_keeper_cannot_edit(auth, client, session, entries, user):
    auth.login(user)
    anna = entries["anna"]
    assert client.get("/vaxel/katalog").status_code == 403
    assert auth.post(f"/vaxel/katalog/{anna.id}", {"title": "Kapad"}).status_code == 403
    session.refresh(anna)
    assert anna.title == "Socialsekreterare"


def test_an_edit_without_csrf_token_is_refused(auth, client, session, entries):
    auth.login("samordnare")
    anna = entries["anna"]
    response = client.post(f"/vaxel/katalog/{anna.id}", data={"title": "Utan token"})
    assert response.status_code in (400, 403)
    session.refresh(anna)
    assert anna.title == "Socialsekreterare"


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("phone", "12", "Telefonnumret 12 är inte giltigt."),
        ("email", "inte en adress", "E-postadressen"),
        ("keywords", "x" * 1001, "Sökord är för långt"),
        ("title", "Chef\x07", "Titel innehåller otillåtna tecken."),
        ("absent_until", "snart", "som inte är ett datum"),
        ("alternative_id", "999999", "finns inte i växelns katalog"),
    ],
)
def test_bad_input_is_a_form_error_and_changes_nothing(auth, client, session, entries, field, value, says):
    auth.login("samordnare")
    anna = entries["anna"]
    data = {"title": "Ny titel", "phone": "040-34 60 01", field: value}
    response = auth.post(f"/vaxel/katalog/{anna.id}", data)
    assert response.status_code == 400
    assert says in page(response)
    assert 'aria-invalid="true"' in page(response)
    session.refresh(anna)
    assert anna.title == "Socialsekreterare"
    assert anna.phone == "+46403460001"


def test_nul_in_a_form_is_refused_and_changes_nothing(auth, client, session, entries):
    auth.login("samordnare")
    anna = entries["anna"]
    response = auth.post(f"/vaxel/katalog/{anna.id}", {"title": "Chef\x00", "phone": "040-34 60 01"})
    assert response.status_code == 400
    session.refresh(anna)
    assert anna.title == "Socialsekreterare"


def test_an_absence_message_without_a_date_is_refused(auth, client, session, entries):
    auth.login("samordnare")
    anna = entries["anna"]
    response = auth.post(f"/vaxel/katalog/{anna.id}", {"absence_message": "Borta"})
    assert response.status_code == 400
    session.refresh(anna)
    assert anna.absence_message == ""


def test_a_coordinator_adds_and_deactivates_an_entry(auth, client, session, entries):
    from sqlalchemy import select

    from kontaktcenter.switchboard.models import StaffMember

    auth.login("samordnare")
    response = auth.post(
        "/vaxel/katalog/ny",
        {
            "department": "asf",
            "employee_id": "F-100",
            "name": "Ekonomiskt bistånd, mottagning",
            "phone": "040-34 60 50",
        },
    )
    assert response.status_code == 302
    auth.login("agent")
    assert "<h3>Ekonomiskt bistånd, mottagning" in page(client.get("/vaxel?q=Ekonomiskt+bistånd+mottagning"))
    auth.login("samordnare")
    added = session.scalar(select(StaffMember).where(StaffMember.employee_id == "F-100"))
    assert added.department.code == "asf"
    again = auth.post("/vaxel/katalog/ny", {"department": "asf", "employee_id": "F-100", "name": "Dubblett"})
    assert again.status_code == 400
    assert "finns redan" in page(again)
    assert auth.post(f"/vaxel/katalog/{added.id}/aktiv", {"active": "0"}).status_code == 302
    session.refresh(added)
    assert not added.active
    auth.login("agent")
    assert "<h3>Ekonomiskt bistånd, mottagning" not in page(client.get("/vaxel?q=Ekonomiskt+bistånd+mottagning"))


def test_the_report_page_for_managers_and_not_for_agents(auth, client, entries):
    auth.login("agent")
    assert client.get("/reports/vaxel?start=2026-03-01&end=2026-03-31").status_code == 403
    auth.login("chef")
    response = client.get("/reports/vaxel?start=2026-03-01&end=2026-03-31")
    assert response.status_code == 200
    assert "Samtal till växeln" in page(response)
