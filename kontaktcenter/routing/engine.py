"""The rule engine: load routing_rules/*.yaml, decide first match, explain why.

Walking-skeleton version: first match over rule-engine expressions. The routing issue
replaces this with the typed schema, validation, targets with timeouts and reloads.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rule_engine
import yaml


class RuleSetError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Rule:
    id: str
    when: str
    route_to: str
    priority: int | None
    source: str
    compiled: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class RuleSet:
    version: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Decision:
    rule_id: str
    queue_code: str
    priority: int | None
    ruleset_version: str
    attributes: dict[str, Any]
    trace: list[dict[str, str]]


def load_rules(directory: str | Path) -> RuleSet:
    files = sorted(Path(directory).glob("*.yaml"))
    digest = hashlib.sha256()
    rules: list[Rule] = []
    problems: list[str] = []
    for path in files:
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw)
        for item in yaml.safe_load(raw) or []:
            try:
                compiled = rule_engine.Rule(str(item["when"]))
            except rule_engine.errors.EngineError as exc:
                problems.append(f"{path}:1: {item.get('id')}: {exc.message}")
                continue
            rules.append(Rule(item["id"], str(item["when"]), item["route_to"], item.get("priority"), path.name, compiled))
    if problems:
        raise RuleSetError(problems)
    return RuleSet(digest.hexdigest()[:16], tuple(rules))


def decide(ruleset: RuleSet, attributes: dict[str, Any]) -> Decision:
    trace = []
    for rule in ruleset.rules:
        if rule.compiled.matches(attributes):
            return Decision(rule.id, rule.route_to, rule.priority, ruleset.version, attributes, trace)
        trace.append({"rule": rule.id, "why": f"villkoret {rule.when} är falskt"})
    raise RuleSetError(["no rule matched: the rule set lacks a catch-all"])
