"""Reload without restart: valid changes take effect on the next contact, invalid ones are refused."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kontaktcenter.routing.engine import ATTRIBUTE_TYPES, decide, normalise_attributes
from kontaktcenter.routing.models import RoutingDecision, RuleSetRefusal
from kontaktcenter.routing.service import RulesInForce
from tests.fixtures.factories import at
from tests.routing.conftest import SHIPPED

T0 = at("2026-03-03 10:00")
ALLMANT_TO_CALLBACKS = """
- id: allmant-aterringning
  when: service == "allmant"
  route_to: kc-aterringning
"""


def routed(session, received) -> RoutingDecision:
    return session.scalar(select(RoutingDecision).where(RoutingDecision.ticket_id == received.ticket.id))


def refusals(session) -> int:
    return session.scalar(select(func.count()).select_from(RuleSetRefusal))


def test_a_valid_change_takes_effect_on_the_next_contact(rules_dir, make_contact, session):
    before = routed(session, make_contact(service="allmant", arrived_at=T0))
    (rules_dir / "15-allmant.yaml").write_text(ALLMANT_TO_CALLBACKS, encoding="utf-8")
    after = make_contact(service="allmant", arrived_at=T0)
    assert (before.rule_id, before.queue_code) == ("forsta-linjen", "kc-forsta-linjen")
    assert (routed(session, after).rule_id, after.ticket.queue.code) == ("allmant-aterringning", "kc-aterringning")
    assert routed(session, after).ruleset_version != before.ruleset_version


def test_an_invalid_change_is_refused_logged_stored_and_the_old_set_keeps_serving(
    rules_dir, make_contact, session, caplog
):
    good = routed(session, make_contact(service="allmant", arrived_at=T0))
    count = refusals(session)
    (rules_dir / "15-broken.yaml").write_text(
        '- id: broken\n  when: servise == "allmant"\n  route_to: kc-aterringning\n', encoding="utf-8"
    )
    with caplog.at_level(logging.ERROR, logger="kontaktcenter.routing.service"):
        first = make_contact(service="allmant", arrived_at=T0)
        second = make_contact(service="allmant", arrived_at=T0)
    for received in (first, second):
        decision = routed(session, received)
        assert (decision.rule_id, decision.ruleset_version) == ("forsta-linjen", good.ruleset_version)
    assert refusals(session) == count + 1  # recorded once, not once per contact
    refusal = session.scalar(select(RuleSetRefusal).order_by(RuleSetRefusal.id.desc()))
    assert f"{rules_dir / '15-broken.yaml'}:2: broken: unknown attribute 'servise'" in refusal.errors
    assert [r for r in caplog.records if "refused" in r.getMessage()], "the refusal is logged"


def test_every_worker_sees_the_refusal_and_it_is_stored_once(rules_dir, session):
    (rules_dir / "15-broken.yaml").write_text("- id: x\n  when: nope\n  route_to: kc-forsta-linjen\n", encoding="utf-8")
    count = refusals(session)
    workers = [RulesInForce(str(rules_dir), "kc-forsta-linjen") for _ in range(3)]
    for worker in workers:
        worker.get(session)
    assert refusals(session) == count + 1
    assert all(worker.refused_version == workers[0].refused_version for worker in workers)


def test_fixing_the_files_puts_the_new_set_in_force(rules_dir, make_contact, session):
    broken = rules_dir / "15-broken.yaml"
    broken.write_text("- id: x\n  when: nope\n  route_to: kc-forsta-linjen\n", encoding="utf-8")
    make_contact(service="allmant", arrived_at=T0)
    broken.write_text(ALLMANT_TO_CALLBACKS, encoding="utf-8")
    assert make_contact(service="allmant", arrived_at=T0).ticket.queue.code == "kc-aterringning"


def test_without_any_valid_set_contacts_go_to_the_fallback_queue_not_lost(rules_dir, make_contact, session):
    for path in rules_dir.glob("*.yaml"):
        path.unlink()
    (rules_dir / "10-only.yaml").write_text(
        '- id: only\n  when: channel == "web"\n  route_to: kc-lokal-service\n', encoding="utf-8"
    )
    received = make_contact(service="skolval", arrived_at=T0)
    decision = routed(session, received)
    assert (decision.rule_id, decision.ruleset_version, received.ticket.queue.code) == (
        "fallback",
        "fallback",
        "kc-forsta-linjen",
    )


def test_the_rules_page_lists_rules_version_and_last_refusal(rules_dir, make_contact, auth, client, session):
    make_contact(service="allmant", arrived_at=T0)
    auth.login("admin")
    page = client.get("/admin/rules").get_data(as_text=True)
    assert "Routningsregler" in page
    assert "forsorjningsstod-pagaende-arende" in page
    assert "tolkbehov" in page
    assert "10-sekretess.yaml:" in page
    (rules_dir / "15-broken.yaml").write_text("- id: x\n  when: nope\n  route_to: kc-forsta-linjen\n", encoding="utf-8")
    page = client.get("/admin/rules").get_data(as_text=True)
    assert "15-broken.yaml:2: x: unknown attribute" in page
    assert "Filerna innehåller fortfarande felen" in page
    (rules_dir / "15-broken.yaml").unlink()
    page = client.get("/admin/rules").get_data(as_text=True)
    assert "Den har sedan ersatts av en giltig version." in page


def test_the_fallback_is_announced_on_the_rules_page(rules_dir, auth, client):
    (rules_dir / "90-forsta-linjen.yaml").unlink()
    auth.login("admin")
    page = client.get("/admin/rules").get_data(as_text=True)
    assert "Inga giltiga regler har kunnat läsas in" in page
    assert "missing catch-all" in page


def test_coordinators_may_read_the_rules_page_agents_may_not(auth, client):
    auth.login("samordnare")
    assert client.get("/admin/rules").status_code == 200
    auth.logout()
    auth.login("agent")
    assert client.get("/admin/rules").status_code == 403


def test_the_rules_page_in_english(auth, client):
    auth.login("admin")
    page = client.get("/admin/rules?lang=en").get_data(as_text=True)
    assert "Routing rules" in page
    assert "Rules in force" in page


# -- property: whatever is wrong with a change, it is refused and the old set keeps serving --

identifiers = st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True)
rule_ids = st.from_regex(r"[a-z][a-z0-9-]{2,20}", fullmatch=True)
BREAKAGES = st.one_of(
    # (file name, content): one kind of problem each, with generated names
    st.builds(
        lambda rid, attr: ("15-x.yaml", f'- id: {rid}\n  when: {attr} == "web"\n  route_to: kc-forsta-linjen\n'),
        rule_ids,
        identifiers.filter(
            lambda a: (
                a not in ATTRIBUTE_TYPES and a not in ("true", "false", "null", "and", "or", "not", "in", "if", "for")
            )
        ),
    ),
    st.builds(
        lambda rid, q: ("15-x.yaml", f'- id: {rid}\n  when: channel == "web"\n  route_to: kc-{q}\n'),
        rule_ids,
        identifiers,
    ),
    st.builds(
        lambda rid, junk: ("15-x.yaml", f"- id: {rid}\n  when: 'channel == ({junk}'\n  route_to: kc-forsta-linjen\n"),
        rule_ids,
        identifiers,
    ),
    st.builds(lambda rid: ("15-x.yaml", f"- id: {rid}\n  when: [unclosed\n  route_to: kc-forsta-linjen\n"), rule_ids),
    st.just(("15-x.yaml", '- id: tolkbehov\n  when: channel == "sms"\n  route_to: kc-forsta-linjen\n')),  # duplicate id
    st.builds(
        lambda rid: ("99-late.yaml", f'- id: {rid}\n  when: channel == "sms"\n  route_to: kc-forsta-linjen\n'), rule_ids
    ),
    st.just(("90-forsta-linjen.yaml", '- id: forsta-linjen\n  when: channel == "web"\n  route_to: kc-forsta-linjen\n')),
    st.builds(
        lambda rid, p: (
            "15-x.yaml",
            f'- id: {rid}\n  when: channel == "web"\n  route_to: kc-forsta-linjen\n  priority: {p}\n',
        ),
        rule_ids,
        st.integers(10, 1000),
    ),
)
SAMPLES = [
    normalise_attributes({"channel": "phone", "open_hours": False}),
    normalise_attributes({"channel": "web", "service": "forsorjningsstod", "department": "asf", "open_ticket": True}),
    normalise_attributes({"channel": "sms", "language": "ar"}),
    normalise_attributes({"channel": "web", "service": "skolval", "department": "grundskola"}),
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(breakage=BREAKAGES)
def test_any_invalid_change_is_refused_and_the_old_set_keeps_serving(session, breakage):
    name, content = breakage
    directory = Path(tempfile.mkdtemp(prefix="kc-rules-"))
    try:
        shutil.copytree(SHIPPED, directory, dirs_exist_ok=True)
        worker = RulesInForce(str(directory), "kc-forsta-linjen")
        old = worker.get(session)
        before = [decide(old, a) for a in SAMPLES]
        (directory / name).write_text(content, encoding="utf-8")
        for _ in range(2):  # the next contacts too
            served = worker.get(session)
            assert served is old
            assert [decide(served, a) for a in SAMPLES] == before
        assert worker.refused_version is not None
        assert worker.refused_version != old.version
        refusal = session.scalar(select(RuleSetRefusal).where(RuleSetRefusal.version == worker.refused_version))
        assert refusal is not None
        assert f"{directory / name}:" in refusal.errors
    finally:
        shutil.rmtree(directory)
