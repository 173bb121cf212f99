"""`kontaktcenter rules check|explain|backtest` as a user runs them."""

from __future__ import annotations

import json
import shutil

from sqlalchemy import func, select

from kontaktcenter.routing.models import RoutingDecision
from kontaktcenter.tickets.models import Ticket, TicketEvent
from tests.fixtures.factories import at
from tests.routing.conftest import SHIPPED


def test_check_accepts_the_shipped_rules(runner):
    result = runner.invoke(args=["rules", "check", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 13 rules in 6 files, version ")


def test_check_refuses_a_broken_copy_with_file_and_line(runner, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(SHIPPED, broken)
    first = (
        len((broken / "20-forvaltningar.yaml").read_text(encoding="utf-8").splitlines()) + 2
    )  # the appended rule's id line
    with (broken / "20-forvaltningar.yaml").open("a", encoding="utf-8") as fh:
        fh.write('\n- id: open311-gata\n  when: chanel == "open311"\n  route_to: fgk-gatan\n')
    (broken / "90-forsta-linjen.yaml").write_text(
        '- id: forsta-linjen\n  when: channel == "web"\n  route_to: kc-forsta-linjen\n'
    )
    result = runner.invoke(args=["rules", "check", str(broken)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    path = broken / "20-forvaltningar.yaml"
    assert f"{path}:{first}: open311-gata: duplicate id (first used at {path}:3)" in lines
    assert any(line.startswith(f"{path}:{first + 1}: open311-gata: unknown attribute 'chanel'") for line in lines)
    assert f"{path}:{first + 2}: open311-gata: unknown queue 'fgk-gatan'" in lines
    assert any(
        line.startswith(f"{broken / '90-forsta-linjen.yaml'}:1: forsta-linjen: missing catch-all") for line in lines
    )


def test_check_reports_yaml_errors_bad_expressions_and_unreachable_rules_with_their_lines(runner, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(SHIPPED, broken)
    (broken / "15-yaml.yaml").write_text('- id: trasig\n  when: [channel == "web"\n  route_to: kc-forsta-linjen\n')
    (broken / "25-uttryck.yaml").write_text(
        '- id: halvt\n  description: ett uttryck som inte tar slut\n  when: channel == "web" and (\n  route_to: kc-forsta-linjen\n'
    )
    (broken / "99-sent.yaml").write_text('- id: for-sent\n  when: channel == "sms"\n  route_to: kc-forsta-linjen\n')
    result = runner.invoke(args=["rules", "check", str(broken)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith(f"{broken / '15-yaml.yaml'}:") and "not valid YAML" in line for line in lines), lines
    assert any(line.startswith(f"{broken / '25-uttryck.yaml'}:3: halvt: bad expression") for line in lines), lines
    assert any(
        line.startswith(f"{broken / '99-sent.yaml'}:1: for-sent: unreachable: the catch-all forsta-linjen")
        for line in lines
    )
    assert "this rule set would be refused" in result.output


def test_explain_prints_the_rule_the_queue_and_why_not_the_others(runner, tmp_path):
    contact = tmp_path / "contact.json"
    contact.write_text(
        json.dumps({"channel": "open311", "service": "felanmalan-gata", "arrived_at": "2026-03-03T10:00:00+01:00"})
    )
    result = runner.invoke(args=["rules", "explain", str(contact)])
    assert result.exit_code == 0, result.output
    assert "queue: fgk-gata" in result.output
    assert "rule: open311-gata" in result.output
    assert 'forsorjningsstod: service är "felanmalan-gata", regeln kräver "forsorjningsstod"' in result.output
    assert 'department = "fgk"' in result.output  # derived from the service


def test_explain_json_derives_time_attributes_from_arrival(runner, tmp_path):
    contact = tmp_path / "contact.json"
    contact.write_text(
        json.dumps({"channel": "phone", "service": "skolval", "arrived_at": "2026-04-02T14:30:00+02:00"})
    )
    result = runner.invoke(args=["rules", "explain", "--json", str(contact)])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["rule"] == "telefon-utanfor-oppettid"  # Maundy Thursday: the eve closes at 13:00
    assert decision["attributes"]["eve"] is True
    assert decision["attributes"]["open_hours"] is False
    assert decision["attributes"]["weekday"] == "thu"


def test_explain_sees_the_klamdag_of_the_services_department(runner, tmp_path, department_closing_days):
    department_closing_days({"kultur": ["2026-05-15"]})
    seen = {}
    for service in ("bibliotekskort", "bygglov"):  # kultur's and sbk's
        contact = tmp_path / f"{service}.json"
        contact.write_text(
            json.dumps({"channel": "web", "service": service, "arrived_at": "2026-05-15T10:00:00+02:00"})
        )
        result = runner.invoke(args=["rules", "explain", "--json", str(contact)])
        assert result.exit_code == 0, result.output
        seen[service] = json.loads(result.output)["attributes"]
    assert (seen["bibliotekskort"]["department"], seen["bibliotekskort"]["working_day"]) == ("kultur", False)
    assert (seen["bygglov"]["department"], seen["bygglov"]["working_day"]) == ("sbk", True)


def test_explain_refuses_bad_input_with_a_clear_message(runner, tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{\n  "channel": "web",\n  oops\n}')
    result = runner.invoke(args=["rules", "explain", str(bad_json)])
    assert result.exit_code == 1
    assert f"{bad_json}:3: not valid JSON" in result.output
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"servic": "skolval"}')
    result = runner.invoke(args=["rules", "explain", str(unknown)])
    assert result.exit_code == 1
    assert "unknown attribute(s) servic" in result.output


def counts(session):
    return tuple(
        session.scalar(select(func.count()).select_from(model)) for model in (Ticket, RoutingDecision, TicketEvent)
    )


def test_backtest_compares_queues_lists_new_catch_all_hits_and_changes_nothing(runner, make_contact, session, tmp_path):
    for service in ("felanmalan-gata", "buller-klagomal"):
        make_contact(channel="open311", service=service, arrived_at=at("2025-02-03 10:00"))
    skolval = make_contact(service="skolval", arrived_at=at("2025-02-04 09:00"))
    make_contact(service="skolval", arrived_at=at("2025-02-10 09:00"))  # outside the period
    candidate = tmp_path / "candidate"
    shutil.copytree(SHIPPED, candidate)
    # The candidate drops the Open311 street rule and sends school choice to the school office.
    text = (candidate / "20-forvaltningar.yaml").read_text(encoding="utf-8")
    start = text.index("- id: open311-gata")
    end = text.index("- id: open311-miljo")
    (candidate / "20-forvaltningar.yaml").write_text(
        text[:start] + text[end:] + '\n- id: skolval\n  when: service == "skolval"\n  route_to: grundskola-antagning\n',
        encoding="utf-8",
    )
    before = counts(session)
    queue_before = skolval.ticket.queue.code
    result = runner.invoke(args=["rules", "backtest", str(candidate), "--from", "2025-02-03", "--to", "2025-02-04"])
    assert result.exit_code == 0, result.output
    assert "3 contacts" in result.output
    assert "2 contact(s) would go to another queue." in result.output
    rows = [line.split() for line in result.output.splitlines()]
    assert ["fgk-gata", "kc-forsta-linjen", "1", "*changed*"] in rows
    assert ["kc-forsta-linjen", "grundskola-antagning", "1", "*changed*"] in rows
    assert ["miljo-tillsyn", "miljo-tillsyn", "1"] in rows
    assert "1 contact(s) would now hit the catch-all:" in result.output
    assert "was open311-gata → fgk-gata" in result.output
    session.expire_all()
    assert counts(session) == before
    assert session.get(Ticket, skolval.ticket.id).queue.code == queue_before


def test_backtest_json(runner, make_contact, tmp_path):
    make_contact(service="allmant", arrived_at=at("2025-03-03 10:00"))
    result = runner.invoke(
        args=["rules", "backtest", str(SHIPPED), "--from", "2025-03-03", "--to", "2025-03-03", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["contacts"] >= 1
    assert data["changed"] == 0
    assert data["catch_all_count"] == 0


def test_backtest_refuses_an_invalid_candidate(runner, tmp_path):
    (tmp_path / "10-x.yaml").write_text("- id: x\n  when: nope\n  route_to: kc-forsta-linjen\n")
    result = runner.invoke(args=["rules", "backtest", str(tmp_path), "--from", "2025-03-03", "--to", "2025-03-03"])
    assert result.exit_code == 1
    assert "unknown attribute 'nope'" in result.output
    assert "nothing was routed" in result.output
