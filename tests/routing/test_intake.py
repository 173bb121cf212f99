"""Routing at intake: the shipped rules on real contacts, the stored decision, agent offers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kontaktcenter.directory import catalogue
from kontaktcenter.directory.models import Queue
from kontaktcenter.routing.models import RoutingDecision
from kontaktcenter.routing.service import latest_decision
from kontaktcenter.tickets.sla import sla_days
from kontaktcenter.vocabulary import CHANNELS, NEEDS
from kontaktcenter.worktime import WorkCalendar
from tests.fixtures.factories import at
from tests.routing.conftest import new_personnummer

TUESDAY_10 = at("2026-03-03 10:00")
TUESDAY_EVENING = at("2026-03-03 19:30")


def decision_of(session, received) -> RoutingDecision:
    return session.scalar(select(RoutingDecision).where(RoutingDecision.ticket_id == received.ticket.id))


@pytest.mark.usefixtures("nobody_available")
@pytest.mark.parametrize(
    ("channel", "service", "extra", "rule", "queue"),
    [
        ("web", "allmant", {}, "forsta-linjen", "kc-forsta-linjen"),
        ("web", "forsorjningsstod", {"personnummer": "198112189876"}, "forsorjningsstod", "asf-forsorjningsstod"),
        ("web", "lss-insatser", {"personnummer": "198112189876"}, "lss-insatser", "funktionsstod-handlaggning"),
        ("open311", "felanmalan-gata", {}, "open311-gata", "fgk-gata"),
        ("open311", "buller-klagomal", {}, "open311-miljo", "miljo-tillsyn"),
        ("web", "felanmalan-gata", {}, "forsta-linjen", "kc-forsta-linjen"),
        (
            "web",
            "skolval",
            {"language": "ar", "needs": ["interpreter"], "interpreter_language": "ar"},
            "tolkbehov",
            "kc-flersprakig",
        ),
        (
            "email",
            "skolval",
            {"language": "so", "email": "x@example.se", "reply_channel": "email"},
            "annat-sprak-skriftligt",
            "kc-flersprakig",
        ),
        ("web", "skolval", {"language": "en"}, "forsta-linjen", "kc-forsta-linjen"),
        ("web", "hemtjanst", {"needs": ["hearing"]}, "tillganglighetsbehov", "kc-forsta-linjen"),
        ("walk_in", "utskrift-hjalp", {"location_code": "bibl-stadsbiblioteket"}, "lokal-service", "kc-lokal-service"),
    ],
)
def test_shipped_rules_route_the_demo_catalogue(make_contact, session, channel, service, extra, rule, queue):
    received = make_contact(channel=channel, service=service, arrived_at=TUESDAY_10, **extra)
    assert (decision_of(session, received).rule_id, received.ticket.queue.code) == (rule, queue)


@pytest.mark.usefixtures("nobody_available")
def test_phone_outside_opening_hours_becomes_a_callback(make_contact, session):
    evening = make_contact(channel="phone", service="skolval", phone="0701234567", arrived_at=TUESDAY_EVENING)
    assert evening.ticket.queue.code == "kc-aterringning"
    assert decision_of(session, evening).attributes["open_hours"] is False
    morning = make_contact(channel="phone", service="skolval", phone="0701234568", arrived_at=TUESDAY_10)
    assert morning.ticket.queue.code == "kc-forsta-linjen"


@pytest.mark.usefixtures("nobody_available")
def test_phone_on_midsommarafton_is_outside_opening_hours(make_contact, session):
    received = make_contact(channel="phone", service="allmant", phone="0701234569", arrived_at=at("2026-06-19 10:00"))
    attributes = decision_of(session, received).attributes
    assert (attributes["working_day"], attributes["open_hours"], received.ticket.queue.code) == (
        False,
        False,
        "kc-aterringning",
    )


@pytest.mark.usefixtures("nobody_available")
def test_a_citizen_with_an_ongoing_case_goes_to_the_case_officers_with_priority(make_contact, session):
    pnr = new_personnummer()
    first = make_contact(service="forsorjningsstod", personnummer=pnr, arrived_at=TUESDAY_10)
    again = make_contact(service="forsorjningsstod", personnummer=pnr, arrived_at=TUESDAY_10 + timedelta(hours=1))
    decision = decision_of(session, again)
    assert decision_of(session, first).rule_id == "forsorjningsstod"
    assert decision.rule_id == "forsorjningsstod-pagaende-arende"
    assert decision.attributes["open_ticket"] is True
    assert decision.attributes["open_ticket_queue"] == "asf-forsorjningsstod"
    assert again.ticket.priority == 6


@pytest.mark.usefixtures("nobody_available")
def test_citizen_known_from_an_earlier_ticket_by_email(make_contact, session):
    address = f"{new_personnummer()}@example.se"
    first = make_contact(service="skolval", email=address.upper(), reply_channel="email", arrived_at=TUESDAY_10)
    later = make_contact(
        service="bibliotekskort", email=address, reply_channel="email", arrived_at=TUESDAY_10 + timedelta(days=1)
    )
    assert decision_of(session, first).attributes["citizen_known"] is False
    assert decision_of(session, later).attributes["citizen_known"] is True
    # A different service: known, but no open ticket on this one.
    assert decision_of(session, later).attributes["open_ticket"] is False


@pytest.mark.usefixtures("nobody_available")
def test_the_decision_record_holds_rule_version_attributes_and_reasons(make_contact, session):
    received = make_contact(channel="open311", service="felanmalan-gata", arrived_at=TUESDAY_10)
    decision = decision_of(session, received)
    assert decision.rule_id == "open311-gata"
    assert len(decision.ruleset_version) == 16
    assert decision.attributes["channel"] == "open311"
    assert decision.attributes["department"] == "fgk"
    assert decision.attributes["local_time"] == "10:00"
    assert decision.attributes["weekday"] == "tue"
    assert [step["rule"] for step in decision.trace] == [
        "forsorjningsstod-pagaende-arende",
        "forsorjningsstod",
        "lss-insatser",
    ]
    assert decision.trace[0]["why"] == 'service är "felanmalan-gata", regeln kräver "forsorjningsstod"'
    assert decision.targets == [{"queue": "fgk-gata", "timeout_minutes": None}]
    routed = [e for e in received.ticket.events if e.kind == "routed"]
    assert routed[0].detail["rule"] == "open311-gata"


@pytest.mark.usefixtures("nobody_available")
def test_the_ticket_page_answers_why_the_ticket_is_here(make_contact, auth, client):
    received = make_contact(channel="open311", service="felanmalan-gata", arrived_at=TUESDAY_10)
    auth.login("agent")  # the street department's ticket: a first-line agent reads it with a reason
    auth.post(f"/tickets/{received.ticket.reference}/skal", {"reason": "Medborgaren ringde och frågade om felanmälan."})
    page = client.get(f"/tickets/{received.ticket.reference}").get_data(as_text=True)
    assert "Varför hamnade ärendet här?" in page
    assert "open311-gata" in page
    assert "regeln kräver" in page


@pytest.mark.usefixtures("nobody_available")
def test_sla_override_sets_the_first_response_clock(make_contact, session):
    pnr = new_personnummer()
    first = make_contact(service="forsorjningsstod", personnummer=pnr, arrived_at=TUESDAY_10)
    again = make_contact(service="forsorjningsstod", personnummer=pnr, arrived_at=TUESDAY_10 + timedelta(hours=2))
    assert sla_days(again.ticket, latest_decision(session, again.ticket).sla)["first_response_days"] == 1
    assert again.ticket.first_response_due_at == WorkCalendar().add_working_days(again.ticket.first_arrived_at, 1)
    assert latest_decision(session, first.ticket).sla == {}


@pytest.mark.usefixtures("nobody_available")
def test_a_route_with_targets_starts_its_timeout_clock(make_contact, session):
    received = make_contact(
        service="skolval", language="ar", needs=["interpreter"], interpreter_language="ar", arrived_at=TUESDAY_10
    )
    assert received.ticket.route_step == 0
    assert received.ticket.route_step_due_at is not None
    assert decision_of(session, received).targets == [
        {"queue": "kc-flersprakig", "timeout_minutes": 120.0},
        {"queue": "kc-forsta-linjen", "timeout_minutes": None},
    ]


@pytest.mark.usefixtures("nobody_available")
def test_no_eligible_agent_means_the_ticket_waits_with_an_event(make_contact):
    received = make_contact(service="allmant", arrived_at=TUESDAY_10)
    assert received.ticket.assignee is None
    waiting = [e for e in received.ticket.events if e.kind == "waiting"]
    assert waiting
    assert waiting[0].to_value == "kc-forsta-linjen"
    assert waiting[0].detail["reason"] == "no eligible agent"


@pytest.mark.usefixtures("nobody_available")
def test_an_available_agent_is_offered_the_ticket_at_intake(make_contact, make_user, session):
    helper = make_user("agent", queues=["kc-forsta-linjen"], presence="available")
    session.commit()
    received = make_contact(service="allmant", arrived_at=TUESDAY_10)
    assert received.ticket.assignee == helper
    assigned = [e for e in received.ticket.events if e.kind == "assigned"]
    assert assigned[0].to_value == helper.username
    assert assigned[0].detail["reason"] == "routing"


@pytest.mark.usefixtures("nobody_available")
def test_calls_are_not_pre_assigned(make_contact, make_user, session):
    make_user("agent", queues=["kc-forsta-linjen"], presence="available")
    session.commit()
    received = make_contact(channel="phone", service="allmant", phone="0701112233", arrived_at=TUESDAY_10)
    assert received.ticket.assignee is None


def test_decision_queue_exists_for_every_shipped_target(session):
    from kontaktcenter.routing.engine import load_rules
    from kontaktcenter.routing.service import vocabulary_from_db
    from tests.routing.conftest import SHIPPED

    ruleset = load_rules(SHIPPED, vocabulary_from_db(session))
    codes = set(session.scalars(select(Queue.code)))
    assert {t.queue for r in ruleset.rules for t in r.targets} <= codes


@pytest.mark.usefixtures("nobody_available")
def test_the_decision_section_shows_route_requirements_reasons_and_attributes(app, make_contact, session):
    from flask import render_template

    received = make_contact(
        service="skolval", language="ar", needs=["interpreter"], interpreter_language="ar", arrived_at=TUESDAY_10
    )
    decision = decision_of(session, received)
    with app.test_request_context("/"):
        html = render_template("routing/_decision.html", decision=decision, ticket=received.ticket)
    assert "Varför hamnade ärendet här?" in html
    assert "tolkbehov" in html
    assert decision.ruleset_version in html
    # The route with its working-time timeout, and where the ticket is on it now.
    assert "<code>kc-flersprakig</code> – efter 120 min arbetstid vidare <strong>(nu här)</strong>" in html
    assert "Språk: contact" in html
    assert "channel är &#34;web&#34;, regeln kräver &#34;open311&#34;" in html  # an earlier rule's reason
    # The values the rules saw, readable: booleans as ja/nej, lists joined.
    assert '<th scope="row"><code>interpreter_language</code></th><td>ar</td>' in html
    assert '<th scope="row"><code>needs</code></th><td>interpreter</td>' in html
    assert '<th scope="row"><code>working_day</code></th><td>ja</td>' in html


@pytest.mark.usefixtures("nobody_available")
@pytest.mark.parametrize(
    ("arrived", "weekday", "working_day", "eve", "open_hours", "queue"),
    [
        ("2026-03-07 10:00", "sat", False, False, False, "kc-aterringning"),  # a Saturday
        ("2026-04-06 10:00", "mon", False, False, False, "kc-aterringning"),  # annandag påsk
        ("2026-04-02 12:30", "thu", True, True, True, "kc-forsta-linjen"),  # skärtorsdagen, before the eve close
        ("2026-04-02 13:30", "thu", True, True, False, "kc-aterringning"),  # … and after it
        ("2026-05-14 10:00", "thu", False, False, False, "kc-aterringning"),  # Kristi himmelsfärds dag
        ("2026-06-19 10:00", "fri", False, False, False, "kc-aterringning"),  # midsommarafton
        ("2026-12-23 14:00", "wed", True, True, False, "kc-aterringning"),  # the eve of julafton closes 13:00
        ("2026-12-24 10:00", "thu", False, False, False, "kc-aterringning"),  # julafton
        ("2026-12-31 10:00", "thu", False, False, False, "kc-aterringning"),  # nyårsafton
        ("2026-03-30 08:05", "mon", True, False, True, "kc-forsta-linjen"),  # the Monday after clocks go forward
        ("2026-10-26 07:55", "mon", True, False, False, "kc-aterringning"),  # the Monday after clocks go back
    ],
)
def test_phone_routing_follows_the_swedish_calendar(
    make_contact, session, arrived, weekday, working_day, eve, open_hours, queue
):
    received = make_contact(
        channel="phone",
        service="allmant",
        phone=f"0703{arrived[5:7]}{arrived[8:10]}{arrived[11:13]}",
        arrived_at=at(arrived),
    )
    seen = decision_of(session, received).attributes
    assert (seen["weekday"], seen["working_day"], seen["eve"], seen["open_hours"]) == (
        weekday,
        working_day,
        eve,
        open_hours,
    )
    assert seen["local_time"] == arrived[11:]  # local clock time, whatever the UTC offset
    assert received.ticket.queue.code == queue


walk_in_locations = catalogue.malmo().codes("locations")
contacts = st.fixed_dictionaries(
    {
        "channel": st.sampled_from(CHANNELS),
        "service": st.sampled_from(catalogue.malmo().codes("services")),
        "language": st.sampled_from(["sv", "en", "ar", "so", "fa", "pl"]),
        "needs": st.lists(st.sampled_from(NEEDS), unique=True, max_size=2),
        "arrived_at": st.datetimes(
            min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
        ),
        "location": st.sampled_from(walk_in_locations),
    }
)


@pytest.mark.usefixtures("nobody_available")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contact=contacts)
def test_every_contact_through_intake_gets_exactly_one_decision(make_contact, session, contact):
    """Through the real intake, any contact at any time: one stored decision, and the ticket is where it says."""
    extra = {"location_code": contact["location"]} if contact["channel"] == "walk_in" else {}
    if "interpreter" in contact["needs"]:
        extra["interpreter_language"] = contact["language"]
    received = make_contact(
        channel=contact["channel"],
        service=contact["service"],
        language=contact["language"],
        needs=contact["needs"],
        arrived_at=contact["arrived_at"],
        **extra,
    )
    decisions = session.scalars(select(RoutingDecision).where(RoutingDecision.ticket_id == received.ticket.id)).all()
    assert len(decisions) == 1
    assert decisions[0].queue_code == received.ticket.queue.code
    assert decisions[0].contact_id == received.contact.id
    routed = session.scalar(
        select(func.count()).select_from(RoutingDecision).where(RoutingDecision.contact_id == received.contact.id)
    )
    assert routed == 1


@pytest.mark.usefixtures("nobody_available")
@pytest.mark.parametrize(
    ("service", "working_day", "queue"),
    [
        ("bygglov", True, "kc-forsta-linjen"),  # sbk works on Friday 15 May
        ("bibliotekskort", False, "kc-forsta-linjen"),  # kultur's klämdag; the first line still answers
    ],
)
def test_working_day_follows_the_klamdag_of_the_services_department(
    make_contact, session, department_closing_days, service, working_day, queue
):
    department_closing_days({"kultur": ["2026-05-15"]})
    received = make_contact(
        channel="phone", service=service, phone=f"07099{len(service):05d}", arrived_at=at("2026-05-15 10:00")
    )
    seen = decision_of(session, received).attributes
    assert (seen["department"], seen["working_day"], seen["eve"], seen["open_hours"]) == (
        {"bygglov": "sbk", "bibliotekskort": "kultur"}[service],
        working_day,
        False,
        True,
    )
    assert received.ticket.queue.code == queue


@pytest.mark.usefixtures("nobody_available")
def test_citizen_known_by_any_one_of_phone_email_or_personnummer_and_only_from_before(make_contact, session):
    pnr, email, phone = new_personnummer(), f"kand-{new_personnummer()}@example.se", "+46701234567"
    strangers = make_contact(service="skolval", email=f"annan-{email}", phone="+46709876543", arrived_at=TUESDAY_10)
    later = make_contact(service="skolval", personnummer=pnr, arrived_at=TUESDAY_10 + timedelta(days=2))
    by_email = make_contact(service="skolval", email=email, arrived_at=TUESDAY_10)
    # Phone, e-mail and personnummer all given: known by the e-mail alone (`later` came after it).
    new = make_contact(
        service="bibliotekskort", phone=phone, email=email, personnummer=pnr, arrived_at=TUESDAY_10 + timedelta(days=1)
    )
    assert [decision_of(session, c).attributes["citizen_known"] for c in (strangers, later, by_email, new)] == [
        False,
        False,
        False,
        True,
    ]
    # Before `new`: its phone and personnummer had not been seen yet. After it, both are known.
    early = TUESDAY_10 + timedelta(hours=1)
    for identifier, known_at in (({"phone": phone}, early), ({"personnummer": pnr}, early)):
        assert (
            decision_of(session, make_contact(service="skolval", arrived_at=known_at, **identifier)).attributes[
                "citizen_known"
            ]
            is False
        )
    after = make_contact(service="skolval", phone=phone, arrived_at=TUESDAY_10 + timedelta(days=3))
    assert decision_of(session, after).attributes["citizen_known"] is True
