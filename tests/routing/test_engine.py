"""The rule engine on its own: validation with file:line, first match, reasons, properties."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import rule_engine
from hypothesis import given, settings
from hypothesis import strategies as st

from kontaktcenter.directory import catalogue
from kontaktcenter.routing.engine import (
    ATTRIBUTES,
    CONTEXT,
    RuleSetError,
    Vocabulary,
    check_rules,
    decide,
    load_rules,
    normalise_attributes,
)
from kontaktcenter.vocabulary import CHANNELS, NEEDS, WEEKDAYS
from tests.routing.conftest import SHIPPED

VOCABULARY = Vocabulary.from_catalogue()
QUEUES = sorted(VOCABULARY.queues)
SERVICES = sorted(VOCABULARY.services)
SERVICE_DEPARTMENT = {code: s.values["department"] for code, s in catalogue.malmo()["services"].items()}


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


CATCH_ALL = """
- id: forsta-linjen
  when: "true"
  route_to: kc-forsta-linjen
"""


def problems_of(directory: Path) -> list[str]:
    return [str(p) for p in check_rules(directory, VOCABULARY)]


# -- the shipped rules ------------------------------------------------------------------


def test_shipped_rules_are_valid_and_end_in_a_catch_all():
    ruleset = load_rules(SHIPPED, VOCABULARY)
    assert ruleset.rules[-1].is_catch_all
    assert not any(rule.is_catch_all for rule in ruleset.rules[:-1])


def test_version_is_a_content_hash(tmp_path):
    write(tmp_path / "a", "90-x.yaml", CATCH_ALL)
    write(tmp_path / "b", "90-x.yaml", CATCH_ALL)
    assert load_rules(tmp_path / "a", VOCABULARY).version == load_rules(tmp_path / "b", VOCABULARY).version
    write(tmp_path / "b", "90-x.yaml", CATCH_ALL.replace("kc-forsta-linjen", "kc-aterringning"))
    assert load_rules(tmp_path / "a", VOCABULARY).version != load_rules(tmp_path / "b", VOCABULARY).version


# -- validation: every problem with file:line: rule-id: message ------------------------------


@pytest.mark.parametrize(
    ("rule", "line", "message"),
    [
        (
            '- id: r1\n  when: chanel == "web"\n  route_to: kc-forsta-linjen\n',
            2,
            "r1: unknown attribute 'chanel' (did you mean 'channel'?)",
        ),
        (
            "- id: r1\n  when: channel == 5\n  route_to: kc-forsta-linjen\n",
            2,
            "r1: channel is STRING, compared with 5 it can never match",
        ),
        (
            '- id: r1\n  when: needs == "interpreter"\n  route_to: kc-forsta-linjen\n',
            2,
            'r1: needs is ARRAY, compared with "interpreter" it can never match',
        ),
        (
            '- id: r1\n  when: queue_open == "kc-aterringning"\n  route_to: kc-forsta-linjen\n',
            2,
            "r1: queue_open is MAPPING",
        ),
        (
            '- id: r1\n  when: channel == "webb"\n  route_to: kc-forsta-linjen\n',
            2,
            'r1: unknown value "webb" for channel',
        ),
        (
            '- id: r1\n  when: service in ["skolval", "skolvall"]\n  route_to: kc-forsta-linjen\n',
            2,
            'r1: unknown value "skolvall" for service',
        ),
        (
            "- id: r1\n  when: '\"tolk\" in needs'\n  route_to: kc-forsta-linjen\n",
            2,
            'r1: unknown value "tolk" for needs',
        ),
        (
            '- id: r1\n  when: queue_open["kc-nope"]\n  route_to: kc-forsta-linjen\n',
            2,
            'r1: unknown value "kc-nope" for queue_open',
        ),
        ('- id: r1\n  when: channel == "web" and (\n  route_to: kc-forsta-linjen\n', 2, "r1: bad expression"),
        (
            "- id: r1\n  when: channel\n  route_to: kc-forsta-linjen\n",
            2,
            "r1: the condition gives a STRING, not true or false",
        ),
        ('- id: r1\n  when: "false"\n  route_to: kc-forsta-linjen\n', 2, "r1: the condition is always false"),
        ('- id: r1\n  when: channel == "web"\n  route_to: kc-nowhere\n', 3, "r1: unknown queue 'kc-nowhere'"),
        ('- id: r1\n  when: channel == "web"\n  rout_to: kc-forsta-linjen\n', 3, "r1: unknown key 'rout_to'"),
        (
            '- id: r1\n  when: channel == "web"\n  route_to: kc-forsta-linjen\n  priority: 12\n',
            4,
            "r1: priority is a whole number from 0",
        ),
        (
            '- id: r1\n  when: channel == "web"\n  route_to: kc-forsta-linjen\n  sla: {resolve_days: 0}\n',
            4,
            "r1: sla.resolve_days is a positive whole number",
        ),
        (
            '- id: r1\n  when: channel == "web"\n  route_to: kc-forsta-linjen\n  skills: {lang: ar}\n',
            4,
            "r1: unknown skill 'lang'",
        ),
        (
            '- id: r1\n  when: channel == "web"\n  route_to: [kc-flersprakig, kc-forsta-linjen]\n',
            3,
            "r1: target kc-flersprakig needs a timeout",
        ),
        (
            '- id: r1\n  when: channel == "web"\n  route_to:\n    - {queue: kc-flersprakig, timeout: soon}\n    - kc-forsta-linjen\n',
            3,
            "r1: timeout 'soon': write a working-time duration",
        ),
        (
            '- id: r1\n  when: channel == "web"\n  route_to:\n    - {queue: kc-forsta-linjen, timeout: 1h}\n',
            3,
            "r1: the last target (kc-forsta-linjen) has a timeout",
        ),
        ('- id: R 1\n  when: channel == "web"\n  route_to: kc-forsta-linjen\n', 1, "R 1: an id is lower-case letters"),
        ('- when: channel == "web"\n  route_to: kc-forsta-linjen\n', 1, "-: the rule has no id"),
    ],
)
def test_each_kind_of_problem_is_reported_with_its_line(tmp_path, rule, line, message):
    write(tmp_path, "10-test.yaml", rule)
    write(tmp_path, "90-catch.yaml", CATCH_ALL)
    found = problems_of(tmp_path)
    expected_prefix = f"{tmp_path / '10-test.yaml'}:{line}: "
    assert any(p.startswith(expected_prefix) and message in p for p in found), found


def test_yaml_error_names_the_line(tmp_path):
    write(tmp_path, "10-bad.yaml", "- id: r1\n  when: [unclosed\n  route_to: x\n")
    write(tmp_path, "90-catch.yaml", CATCH_ALL)
    (problem,) = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path / '10-bad.yaml'}:")
    assert "not valid YAML" in problem


def test_duplicate_id_points_at_the_first_use(tmp_path):
    write(tmp_path, "10-a.yaml", '- id: same\n  when: channel == "web"\n  route_to: kc-forsta-linjen\n')
    write(tmp_path, "20-b.yaml", '- id: same\n  when: channel == "sms"\n  route_to: kc-forsta-linjen\n' + CATCH_ALL)
    (problem,) = problems_of(tmp_path)
    assert problem == f"{tmp_path / '20-b.yaml'}:1: same: duplicate id (first used at {tmp_path / '10-a.yaml'}:1)"


def test_missing_catch_all_is_refused(tmp_path):
    write(tmp_path, "10-a.yaml", '- id: only-web\n  when: channel == "web"\n  route_to: kc-forsta-linjen\n')
    (problem,) = problems_of(tmp_path)
    assert problem.endswith(
        'only-web: missing catch-all: the last rule must have when: "true" so every contact is routed'
    )


def test_rules_after_the_catch_all_are_unreachable(tmp_path):
    write(tmp_path, "10-a.yaml", CATCH_ALL)
    write(tmp_path, "20-b.yaml", '- id: too-late\n  when: channel == "web"\n  route_to: kc-forsta-linjen\n')
    (problem,) = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path / '20-b.yaml'}:1: too-late: unreachable: the catch-all forsta-linjen")


def test_empty_directory_is_refused(tmp_path):
    (problem,) = problems_of(tmp_path)
    assert "no rule files" in problem


def test_load_rules_raises_with_every_problem(tmp_path):
    write(tmp_path, "10-a.yaml", '- id: a\n  when: chanel == "x"\n  route_to: kc-nowhere\n')
    with pytest.raises(RuleSetError) as caught:
        load_rules(tmp_path, VOCABULARY)
    messages = [p.message for p in caught.value.problems]
    assert any("unknown attribute" in m for m in messages)
    assert any("unknown queue" in m for m in messages)
    assert any("missing catch-all" in m for m in messages)


# -- deciding -------------------------------------------------------------------------------


def small_set(tmp_path):
    write(
        tmp_path,
        "10-a.yaml",
        """
        - id: gata
          when: channel == "open311" and department == "fgk"
          route_to: fgk-gata
        - id: kvall
          when: channel == "phone" and local_time >= "17:00"
          route_to: kc-aterringning
          priority: 4
        """,
    )
    write(tmp_path, "90-b.yaml", CATCH_ALL)
    return load_rules(tmp_path, VOCABULARY)


def test_first_match_wins_and_earlier_rules_say_why(tmp_path):
    ruleset = small_set(tmp_path)
    decision = decide(ruleset, normalise_attributes({"channel": "phone", "local_time": "18:30"}))
    assert (decision.rule_id, decision.queue_code, decision.priority) == ("kvall", "kc-aterringning", 4)
    assert decision.trace == [{"rule": "gata", "why": 'channel är "phone", regeln kräver "open311"'}]


def test_a_false_condition_is_quoted_with_the_values_it_saw(tmp_path):
    ruleset = small_set(tmp_path)
    decision = decide(ruleset, normalise_attributes({"channel": "phone", "local_time": "09:15"}))
    assert decision.rule_id == "forsta-linjen"
    assert decision.trace[1] == {"rule": "kvall", "why": 'local_time >= "17:00" är falskt (local_time = "09:15")'}


def test_unknown_or_mistyped_attributes_are_refused_by_normalise():
    with pytest.raises(ValueError, match="unknown attribute"):
        normalise_attributes({"servic": "x"})
    with pytest.raises(ValueError, match="needs must be array"):
        normalise_attributes({"needs": "interpreter"})


# -- properties ------------------------------------------------------------------------------

attribute_values = st.fixed_dictionaries(
    {
        "channel": st.sampled_from(CHANNELS),
        "service": st.sampled_from(["", *SERVICES]),
        "language": st.sampled_from(["sv", "en", "ar", "so", "fa", "pl"]),
        "needs": st.lists(st.sampled_from(NEEDS), unique=True, max_size=4),
        "interpreter_language": st.sampled_from(["", "ar", "so"]),
        "location": st.sampled_from(["", *sorted(VOCABULARY.locations)]),
        "text": st.one_of(st.text(max_size=40), st.sampled_from(["Hej, fråga om parkering", "min faktura", "hej"])),
        "identified": st.booleans(),
        "citizen_known": st.booleans(),
        "open_ticket": st.booleans(),
        "open_ticket_queue": st.sampled_from(["", *QUEUES]),
        "weekday": st.sampled_from(WEEKDAYS),
        "local_time": st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59)),
        "working_day": st.booleans(),
        "eve": st.booleans(),
        "open_hours": st.booleans(),
        "queue_open": st.fixed_dictionaries({q: st.booleans() for q in QUEUES}),
        "arrived_at": st.datetimes(
            min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
        ),
    }
).map(lambda d: normalise_attributes({**d, "department": SERVICE_DEPARTMENT.get(d["service"], "")}))

SHIPPED_SET = load_rules(SHIPPED, VOCABULARY)


def naive_first_match(ruleset, attributes):
    """The reference semantics: rule-engine's own evaluation of each whole condition, in order."""
    for rule in ruleset.rules:
        if rule_engine.Rule(rule.when, context=CONTEXT).matches(attributes):
            return rule.id
    return None


@settings(max_examples=300, deadline=None)
@given(attributes=attribute_values)
def test_every_contact_gets_exactly_one_decision_from_the_shipped_rules(attributes):
    decision = decide(SHIPPED_SET, attributes)
    ids = [rule.id for rule in SHIPPED_SET.rules]
    matched = ids.index(decision.rule_id)
    # The trace is exactly the rules before the match, in order, each with a reason.
    assert [step["rule"] for step in decision.trace] == ids[:matched]
    assert all(step["why"] for step in decision.trace)
    assert decision.queue_code in VOCABULARY.queues
    assert decision.rule_id == naive_first_match(SHIPPED_SET, attributes)


@settings(max_examples=200, deadline=None)
@given(attributes=attribute_values)
def test_the_catch_all_always_matches(tmp_path_factory, attributes):
    directory = tmp_path_factory.mktemp("catch")
    write(directory, "90-x.yaml", CATCH_ALL)
    assert decide(load_rules(directory, VOCABULARY), attributes).rule_id == "forsta-linjen"


conditions = st.one_of(
    st.sampled_from(CHANNELS).map(lambda c: f'channel == "{c}"'),
    st.sampled_from(SERVICES).map(lambda s: f'service == "{s}"'),
    st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True).map(
        lambda cs: "channel in [" + ", ".join(f'"{c}"' for c in cs) + "]"
    ),
    st.sampled_from(NEEDS).map(lambda n: f'"{n}" in needs'),
    st.sampled_from(["open_hours", "not open_hours", "citizen_known", "open_ticket", "working_day", "eve"]),
    st.builds(lambda h: f'local_time >= "{h:02d}:00"', st.integers(0, 23)),
    st.sampled_from(["sv", "en", "ar"]).map(lambda lang: f'language != "{lang}"'),
    st.sampled_from(QUEUES).map(lambda q: f'queue_open["{q}"]'),
    st.sampled_from(["parkering", "^Hej", "faktura$"]).map(lambda w: f'text =~~ "{w}"'),
    st.sampled_from(["hej", "Hej.*"]).map(lambda w: f'text !~ "{w}"'),
    st.sampled_from(WEEKDAYS).map(lambda d: f'weekday != "{d}" and not eve'),
    st.builds(lambda h: f'"{h:02d}:30" > local_time', st.integers(0, 23)),
    st.sampled_from(["sv", "ar"]).map(lambda lang: f'(language == "{lang}" or "interpreter" in needs)'),
    st.sampled_from(SERVICES).map(lambda s: f'not (service == "{s}" and open_hours)'),
    st.just('arrived_at >= d"2026-06-01" and identified == true'),
)
rule_conditions = st.lists(conditions, min_size=1, max_size=3).map(lambda parts: " and ".join(parts)) | st.tuples(
    conditions, conditions
).map(lambda pair: f"{pair[0]} or {pair[1]}")


@settings(max_examples=60, deadline=None)
@given(
    whens=st.lists(rule_conditions, min_size=1, max_size=12), samples=st.lists(attribute_values, min_size=5, max_size=5)
)
def test_the_fast_path_agrees_with_rule_engine_on_generated_rule_sets(tmp_path_factory, whens, samples):
    directory = tmp_path_factory.mktemp("gen")
    body = "".join(
        f"- id: r{i}\n  when: '{when}'\n  route_to: {QUEUES[i % len(QUEUES)]}\n" for i, when in enumerate(whens)
    )
    write(directory, "10-gen.yaml", body + CATCH_ALL)
    ruleset = load_rules(directory, VOCABULARY)
    for attributes in samples:
        decision = decide(ruleset, attributes)
        assert decision.rule_id == naive_first_match(ruleset, attributes)
        assert decide(ruleset, attributes) == decision  # the same contact is always routed the same way


def test_attributes_documented_in_the_rules_readme():
    readme = (SHIPPED / "README.md").read_text(encoding="utf-8")
    missing = [a.name for a in ATTRIBUTES if f"`{a.name}`" not in readme]
    assert not missing, f"routing_rules/README.md does not document {missing}"
