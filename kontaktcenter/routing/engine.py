"""The rule engine: routing_rules/*.yaml validated into a RuleSet; first match wins, with reasons."""

from __future__ import annotations

import functools
import hashlib
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import rule_engine
import yaml
from rule_engine import DataType as T
from rule_engine import ast as re_ast

from ..vocabulary import CHANNELS, LOCATION_KINDS, NEEDS, WEEKDAYS
from ..worktime.calendar import STOCKHOLM


@dataclass(frozen=True)
class Attribute:
    name: str
    type: Any
    default: Any
    doc: str


# The typed schema every `when` is compiled against: a misspelt attribute or a type
# error is a load-time error, never a silent non-match. Documented in routing_rules/README.md.
ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("channel", T.STRING, "web", "the contact's channel: " + ", ".join(CHANNELS)),
    Attribute("service", T.STRING, "", 'the service code from the catalogue ("" when none was chosen)'),
    Attribute("department", T.STRING, "", 'the code of the department that owns the service ("" when none)'),
    Attribute("confidential", T.BOOLEAN, False, "the service is confidential (sekretess, OSL)"),
    Attribute("language", T.STRING, "sv", "the language the citizen writes or speaks (ISO 639-1)"),
    Attribute("needs", T.ARRAY(T.STRING), (), "accessibility needs, a list of: " + ", ".join(NEEDS)),
    Attribute("interpreter_language", T.STRING, "", 'the language an interpreter is needed for ("" when none)'),
    Attribute("location", T.STRING, "", 'the code of the place of a walk-in visit ("" for remote contacts)'),
    Attribute(
        "location_kind", T.STRING, "", "the kind of that place: " + ", ".join(LOCATION_KINDS) + ' ("" when none)'
    ),
    Attribute("text", T.STRING, "", "the citizen's message (subject and text)"),
    Attribute("identified", T.BOOLEAN, False, "the citizen gave a valid personnummer"),
    Attribute(
        "citizen_known", T.BOOLEAN, False, "an earlier contact from the same phone, e-mail or personnummer has a ticket"
    ),
    Attribute(
        "open_ticket",
        T.BOOLEAN,
        False,
        "the same citizen has an open ticket on this service (any service when none was chosen)",
    ),
    Attribute("open_ticket_queue", T.STRING, "", 'the queue of that open ticket ("" when none)'),
    Attribute(
        "mentions_ticket",
        T.BOOLEAN,
        False,
        "the contact cites a ticket's reference but did not join it (an e-mail from someone other than that ticket's citizen, or about a ticket resolved long ago)",
    ),
    Attribute(
        "arrived_at", T.DATETIME, None, 'when the contact arrived (Europe/Stockholm), e.g. arrived_at >= d"2026-06-01"'
    ),
    Attribute("weekday", T.STRING, "mon", "local day of the week at arrival: " + ", ".join(WEEKDAYS)),
    Attribute(
        "local_time", T.STRING, "12:00", 'local clock time at arrival, "HH:MM" (compare as text: local_time >= "17:00")'
    ),
    Attribute("local_date", T.STRING, "", 'local date at arrival, "YYYY-MM-DD"'),
    Attribute("working_day", T.BOOLEAN, True, "the arrival day is a working day (METRICS.md)"),
    Attribute("eve", T.BOOLEAN, False, "the arrival day is a working day before a holiday (shorter hours)"),
    Attribute(
        "open_hours",
        T.BOOLEAN,
        True,
        "the service's opening hours (or the contact center's default hours) include the arrival time",
    ),
    Attribute(
        "queue_open",
        T.MAPPING(T.STRING, T.BOOLEAN),
        None,
        'queue code → whether that queue\'s opening hours include the arrival time, e.g. queue_open["kc-forsta-linjen"]',
    ),
)
ATTRIBUTE_TYPES = {a.name: a.type for a in ATTRIBUTES}
RULE_KEYS = ("id", "when", "route_to", "priority", "skills", "sla", "description")
SKILL_KEYS = ("language", "service")
SLA_KEYS = ("first_response_days", "accept_days", "resolve_days")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,119}$")
GUARD_REASONS_KEPT = 256
# Text json.dumps would leave as it is, so _lit may quote it directly.
PLAIN_TEXT = re.compile(r"[A-Za-z0-9 _.:-]*")
TIMEOUT_PATTERN = re.compile(r"^\s*(\d+)\s*(m|min|h|d)\s*$")
CONTEXT = rule_engine.Context(
    type_resolver=rule_engine.type_resolver_from_dict(ATTRIBUTE_TYPES), default_timezone=STOCKHOLM
)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    rule_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule_id or '-'}: {self.message}"


class RuleSetError(ValueError):
    """A rule set that cannot be used; `problems` says where and why."""

    def __init__(self, problems: Iterable[Problem | str]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Vocabulary:
    """The directory's codes that rules may name; an unknown one is a load-time error."""

    queues: frozenset[str]
    services: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()
    locations: frozenset[str] = frozenset()

    @classmethod
    def from_catalogue(cls) -> Vocabulary:
        from ..directory.catalogue import malmo

        directory = malmo()
        return cls(
            queues=frozenset(directory.codes("queues")),
            services=frozenset(directory.codes("services")),
            departments=frozenset(directory.codes("departments")),
            locations=frozenset(directory.codes("locations")),
        )

    def values_of(self, attribute: str) -> frozenset[str] | None:
        known = {
            "channel": frozenset(CHANNELS),
            "needs": frozenset(NEEDS),
            "weekday": frozenset(WEEKDAYS),
            "location_kind": frozenset(LOCATION_KINDS) | {""},
            "service": self.services | {""} if self.services else None,
            "department": self.departments | {""} if self.departments else None,
            "location": self.locations | {""} if self.locations else None,
            "open_ticket_queue": self.queues | {""},
            "queue_open": self.queues,
        }
        return known.get(attribute)


@dataclass(frozen=True)
class Target:
    queue: str
    timeout: timedelta | None = None  # working time before the ticket moves to the next target

    def as_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "timeout_minutes": None if self.timeout is None else self.timeout.total_seconds() / 60,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Target:
        minutes = data.get("timeout_minutes")
        return cls(data["queue"], None if minutes is None else timedelta(minutes=minutes))


@dataclass(frozen=True)
class Guard:
    """A plain equality or membership test taken from a rule's top-level `and`.

    Checked before the rule-engine expression: a failed guard proves the rule cannot
    match, so most of a large rule set is skipped with a dictionary lookup, and the
    reason is as precise as it gets ("service is X, the rule needs Y").
    """

    attribute: str
    allowed: frozenset[Any]
    _reasons: dict[Any, str] = field(default_factory=dict, compare=False, repr=False)

    @functools.cached_property
    def need(self) -> str:
        wanted = sorted(self.allowed, key=str)
        return _lit(wanted[0]) if len(wanted) == 1 else "ett av " + ", ".join(_lit(v) for v in wanted)

    def why(self, value: Any) -> str:
        # A guard sees few distinct values (channels, services, …): keep their reasons.
        reason = self._reasons.get(value)
        if reason is None:
            reason = f"{self.attribute} är {_lit(value)}, regeln kräver {self.need}"
            if len(self._reasons) < GUARD_REASONS_KEPT:
                self._reasons[value] = reason
        return reason


@dataclass(frozen=True)
class Check:
    """A conjunct that is not a guard: its test, and how to quote it when it is false.

    `test` is a plain Python function for the node shapes rules are made of (symbols,
    comparisons with literals, `in`, `not`, `and`/`or`, queue_open[...], regexes), or the
    node's own rule-engine evaluation otherwise; the property tests check they agree.
    """

    node: Any
    test: Callable[[Mapping[str, Any]], Any]
    text: str | None
    symbols: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    id: str
    when: str
    targets: tuple[Target, ...]
    priority: int | None
    file: str
    line: int
    skills: Mapping[str, Any] = field(default_factory=dict)
    sla: Mapping[str, int] = field(default_factory=dict)
    description: str = ""
    compiled: Any = field(default=None, compare=False, repr=False)
    guards: tuple[Guard, ...] = field(default=(), compare=False, repr=False)
    # The conjuncts that are not guards, evaluated in order once the guards hold.
    residual: tuple[Check, ...] = field(default=(), compare=False, repr=False)

    @property
    def route_to(self) -> str:
        return self.targets[0].queue

    @property
    def is_catch_all(self) -> bool:
        return _is_literal(self.compiled.statement.expression, True)

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class RuleSet:
    version: str
    rules: tuple[Rule, ...]
    directory: str = ""
    files: tuple[str, ...] = ()
    # The active queues the set was validated against (the keys of queue_open).
    queues: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    rule_id: str
    queue_code: str
    priority: int | None
    ruleset_version: str
    attributes: dict[str, Any]
    trace: list[dict[str, str]]
    targets: tuple[Target, ...] = ()
    skills: Mapping[str, Any] = field(default_factory=dict)
    sla: Mapping[str, int] = field(default_factory=dict)
    description: str = ""


# -- reading and validating --------------------------------------------------------


class _LineLoader(yaml.SafeLoader):
    """A safe YAML loader that remembers the line of every mapping and of its keys."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        mapping["__lines__"] = {k.value: k.start_mark.line + 1 for k, _v in node.value if hasattr(k, "value")}
        return mapping


def rule_files(directory: str | Path) -> list[Path]:
    return sorted(Path(directory).glob("*.yaml"), key=lambda p: p.name)


def content_version(directory: str | Path) -> str:
    """The rule set's version: a hash of its files' names and bytes, in reading order."""
    digest = hashlib.sha256()
    for path in rule_files(directory):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def load_rules(directory: str | Path, vocabulary: Vocabulary | None = None) -> RuleSet:
    """Read and validate every rule file of `directory`; raises RuleSetError listing every problem."""
    directory = Path(directory)
    problems: list[Problem] = []
    rules: list[Rule] = []
    files = rule_files(directory)
    if not directory.is_dir():
        raise RuleSetError([Problem(str(directory), 0, "", "no such directory")])
    if not files:
        problems.append(Problem(str(directory), 0, "", "no rule files (*.yaml) in this directory"))
    for stray in sorted(directory.glob("*.yml")):
        problems.append(Problem(str(stray), 1, "", "rule files must end in .yaml; this file would be ignored"))
    digest = hashlib.sha256()
    declared: list[tuple[str, str, int, str]] = []
    for path in files:
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        rules.extend(_read_file(path, raw, vocabulary, problems, declared))
    _check_set(rules, declared, problems)
    if problems:
        raise RuleSetError(problems)
    queues = vocabulary.queues if vocabulary is not None else frozenset()
    return RuleSet(digest.hexdigest()[:16], tuple(rules), str(directory), tuple(p.name for p in files), queues)


def check_rules(directory: str | Path, vocabulary: Vocabulary | None = None) -> list[Problem]:
    try:
        load_rules(directory, vocabulary)
    except RuleSetError as exc:
        return [p if isinstance(p, Problem) else Problem(str(directory), 0, "", str(p)) for p in exc.problems]
    return []


def _read_file(
    path: Path,
    raw: bytes,
    vocabulary: Vocabulary | None,
    problems: list[Problem],
    declared: list[tuple[str, str, int, str]],
) -> list[Rule]:
    name = str(path)
    try:
        items = yaml.load(raw, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problems.append(Problem(name, line, "", f"not valid YAML: {getattr(exc, 'problem', None) or exc}"))
        return []
    except UnicodeDecodeError:
        problems.append(Problem(name, 1, "", "not UTF-8 text"))
        return []
    if items is None:
        return []
    if not isinstance(items, list):
        problems.append(Problem(name, 1, "", "a rule file is a YAML list of rules (each starting with '- id: …')"))
        return []
    rules = []
    for item in items:
        if not isinstance(item, dict):
            problems.append(Problem(name, 1, "", f"each rule is a mapping with id, when and route_to, not {item!r}"))
            continue
        declared.append((str(item.get("id", "")), name, item["__line__"], str(item.get("when", "")).strip()))
        rule = _read_rule(name, item, vocabulary, problems)
        if rule is not None:
            rules.append(rule)
    return rules


def _read_rule(name: str, item: dict, vocabulary: Vocabulary | None, problems: list[Problem]) -> Rule | None:
    line = item.pop("__line__")
    lines = item.pop("__lines__")
    rule_id = str(item.get("id", ""))
    before = len(problems)

    def problem(key: str | None, message: str) -> None:
        problems.append(Problem(name, lines.get(key, line) if key else line, rule_id, message))

    for key in sorted(set(item) - set(RULE_KEYS)):
        problem(key, f"unknown key {key!r} (a rule has: {', '.join(RULE_KEYS)})")
    if "id" not in item:
        problem(None, "the rule has no id")
    elif not isinstance(item["id"], str) or not ID_PATTERN.match(item["id"]):
        problem("id", "an id is lower-case letters, digits, '-', '_' or '.' (at most 120)")
    compiled, guards, residual = None, (), ()
    if "when" not in item:
        problem(None, 'the rule has no when (write when: "true" for a catch-all)')
    else:
        compiled, guards, residual = _compile(str(item["when"]), vocabulary, lambda m: problem("when", m))
    targets = _targets(item.get("route_to"), vocabulary, lambda m: problem("route_to", m))
    priority = item.get("priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 9):
        problem("priority", "priority is a whole number from 0 (lowest) to 9 (most urgent)")
    skills = _skills(item.get("skills"), vocabulary, lambda m: problem("skills", m))
    sla = _sla(item.get("sla"), lambda m: problem("sla", m))
    description = item.get("description", "")
    if not isinstance(description, str):
        problem("description", "description is text")
    if len(problems) > before:
        return None
    return Rule(
        id=rule_id,
        when=str(item["when"]),
        targets=targets,
        priority=priority,
        file=name,
        line=line,
        skills=skills,
        sla=sla,
        description=description.strip(),
        compiled=compiled,
        guards=guards,
        residual=residual,
    )


def _compile(when: str, vocabulary: Vocabulary | None, problem) -> tuple[Any, tuple[Guard, ...], Any]:
    try:
        compiled = rule_engine.Rule(when, context=CONTEXT)
    except rule_engine.errors.SymbolResolutionError as exc:
        hint = f" (did you mean {exc.suggestion!r}?)" if exc.suggestion else ""
        problem(f"unknown attribute {exc.symbol_name!r}{hint}; known attributes: {', '.join(ATTRIBUTE_TYPES)}")
        return None, (), ()
    except rule_engine.errors.RuleSyntaxError as exc:
        problem(f"bad expression {when!r}: {exc.message}")
        return None, (), ()
    except rule_engine.errors.EngineError as exc:
        problem(f"bad expression {when!r}: {exc.message}")
        return None, (), ()
    expression = compiled.statement.expression
    if expression.result_type not in (T.BOOLEAN, T.UNDEFINED):
        problem(f"the condition gives a {expression.result_type.name}, not true or false")
        return None, (), ()
    if _is_literal(expression, False):
        problem("the condition is always false: the rule can never match")
        return None, (), ()
    for message in _literal_problems(expression, vocabulary or Vocabulary(frozenset())):
        problem(message)
    conjuncts = list(_conjuncts(expression))
    guards, rest = [], []
    for node in conjuncts:
        guard = _guard(node)
        if guard is not None:
            guards.append(guard)
        elif not _is_literal(node, True):
            rest.append(_check(node))
    return compiled, tuple(guards), tuple(rest)


def _check(node: Any) -> Check:
    try:
        text: str | None = render(node)
    except ValueError:
        text = None
    symbols = tuple(name for name in _symbols(node) if name != "queue_open")
    return Check(node, _fast(node) or node.evaluate, text, symbols)


COMPARE = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def _fast(node: Any) -> Callable[[Mapping[str, Any]], Any] | None:
    """A Python function equal to `node.evaluate` for the common shapes; None for the rest."""
    if isinstance(node, re_ast.SymbolExpression) and ATTRIBUTE_TYPES.get(node.name) == T.BOOLEAN:
        name = node.name
        return lambda a: a[name]
    if isinstance(node, re_ast.UnaryExpression) and node.type == "not":
        inner = _fast(node.right)
        return None if inner is None else (lambda a: not inner(a))
    if isinstance(node, re_ast.LogicExpression) and node.type in ("and", "or"):
        left, right = _fast(node.left), _fast(node.right)
        if left is None or right is None:
            return None
        if node.type == "and":
            return lambda a: bool(left(a)) and bool(right(a))
        return lambda a: bool(left(a)) or bool(right(a))
    if type(node) is re_ast.ComparisonExpression and node.type in COMPARE:
        return _fast_compare(node.left, node.right, COMPARE[node.type])
    if isinstance(node, re_ast.ArithmeticComparisonExpression) and node.type in COMPARE:
        # Only text with text (local_time >= "17:00"): numbers and times keep rule-engine's rules.
        if _is_string_symbol(node.left) and _literal(node.right)[0] and isinstance(node.right.value, str):
            return _fast_compare(node.left, node.right, COMPARE[node.type])
        return None
    if isinstance(node, re_ast.FuzzyComparisonExpression) and node.type in ("eq_fzm", "eq_fzs", "ne_fzm", "ne_fzs"):
        regex = getattr(node, "_right", None)
        if not _is_string_symbol(node.left) or not isinstance(regex, re.Pattern):
            return None
        name, find = node.left.name, (regex.match if node.type.endswith("fzm") else regex.search)
        if node.type.startswith("eq"):
            return lambda a: find(a[name]) is not None
        return lambda a: find(a[name]) is None
    if isinstance(node, re_ast.ContainsExpression):
        member, container = node.member, node.container
        ok, value = _literal(member)
        if (
            ok
            and isinstance(container, re_ast.SymbolExpression)
            and ATTRIBUTE_TYPES.get(container.name) == T.ARRAY(T.STRING)
        ):
            name = container.name
            return lambda a: value in a[name]
        if _is_string_symbol(member) and isinstance(container, re_ast.ArrayExpression | re_ast.SetExpression):
            values = [_literal(v) for v in container.value]
            if all(ok and isinstance(v, str) for ok, v in values):
                name, allowed = member.name, frozenset(v for _ok, v in values)
                return lambda a: a[name] in allowed
        return None
    if (
        isinstance(node, re_ast.GetItemExpression)
        and not node.safe
        and isinstance(node.container, re_ast.SymbolExpression)
    ):
        ok, key = _literal(node.item)
        if ok and isinstance(key, str) and ATTRIBUTE_TYPES.get(node.container.name) == T.MAPPING(T.STRING, T.BOOLEAN):
            name, evaluate = node.container.name, node.evaluate

            def get(a: Mapping[str, Any]) -> Any:
                found = a[name].get(key)
                # A missing key: let rule-engine raise its own error.
                return evaluate(a) if found is None else found

            return get
    return None


def _is_string_symbol(node: Any) -> bool:
    return isinstance(node, re_ast.SymbolExpression) and ATTRIBUTE_TYPES.get(node.name) == T.STRING


def _fast_compare(left: Any, right: Any, op: Callable[[Any, Any], bool]) -> Callable[[Mapping[str, Any]], Any] | None:
    for sym, lit, flip in ((left, right, False), (right, left, True)):
        ok, value = _literal(lit)
        kind = ATTRIBUTE_TYPES.get(sym.name) if isinstance(sym, re_ast.SymbolExpression) else None
        if ok and ((kind == T.STRING and isinstance(value, str)) or (kind == T.BOOLEAN and isinstance(value, bool))):
            name = sym.name
            if flip:
                return lambda a: op(value, a[name])
            return lambda a: op(a[name], value)
    return None


def _targets(raw: Any, vocabulary: Vocabulary | None, problem) -> tuple[Target, ...]:
    if raw is None:
        problem("the rule has no route_to (a queue code, or a list of {queue, timeout})")
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        problem("route_to is a queue code or a non-empty list of targets")
        return ()
    targets = []
    for i, entry in enumerate(items):
        last = i == len(items) - 1
        if isinstance(entry, str):
            queue, timeout_raw = entry, None
        elif isinstance(entry, dict):
            entry = {k: v for k, v in entry.items() if not k.startswith("__")}
            extra = set(entry) - {"queue", "timeout"}
            if extra:
                problem(f"unknown key(s) in a target: {', '.join(sorted(extra))} (a target has queue and timeout)")
            queue, timeout_raw = entry.get("queue"), entry.get("timeout")
        else:
            problem(f"a target is a queue code or {{queue, timeout}}, not {entry!r}")
            continue
        if not isinstance(queue, str) or not queue:
            problem("a target needs a queue code")
            continue
        if vocabulary is not None and queue not in vocabulary.queues:
            problem(f"unknown queue {queue!r}")
        timeout = None
        if timeout_raw is not None:
            timeout = parse_timeout(timeout_raw)
            if timeout is None:
                problem(f"timeout {timeout_raw!r}: write a working-time duration such as 30m, 4h or 1d")
        if last and timeout is not None:
            problem(f"the last target ({queue}) has a timeout but nothing to move on to")
        if not last and timeout is None and timeout_raw is None:
            problem(f"target {queue} needs a timeout: after it the ticket moves to the next target")
        targets.append(Target(queue, timeout))
    return tuple(targets)


def parse_timeout(raw: Any) -> timedelta | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int) and raw > 0:
        return timedelta(minutes=raw)
    match = TIMEOUT_PATTERN.match(str(raw))
    if not match or int(match.group(1)) <= 0:
        return None
    amount, unit = int(match.group(1)), match.group(2)
    return {
        "m": timedelta(minutes=amount),
        "min": timedelta(minutes=amount),
        "h": timedelta(hours=amount),
        "d": timedelta(days=amount),
    }[unit]


def _skills(raw: Any, vocabulary: Vocabulary | None, problem) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problem("skills is a mapping: {language: contact|any|<code>, service: true|false|<code>}")
        return {}
    raw = {k: v for k, v in raw.items() if not k.startswith("__")}
    for key in sorted(set(raw) - set(SKILL_KEYS)):
        problem(f"unknown skill {key!r} (skills: {', '.join(SKILL_KEYS)})")
    language = raw.get("language", "contact")
    if not isinstance(language, str) or not (language in ("contact", "any") or re.fullmatch(r"[a-z]{2,3}", language)):
        problem(f"skills.language {language!r}: write contact, any or a language code such as ar")
    service = raw.get("service", False)
    if not isinstance(service, bool | str):
        problem("skills.service is true, false or a service code")
    elif (
        isinstance(service, str)
        and vocabulary is not None
        and vocabulary.services
        and service not in vocabulary.services
    ):
        problem(f"skills.service: unknown service {service!r}")
    return {"language": language, "service": service}


def _sla(raw: Any, problem) -> dict[str, int]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problem(f"sla is a mapping of {', '.join(SLA_KEYS)} (working days)")
        return {}
    raw = {k: v for k, v in raw.items() if not k.startswith("__")}
    for key in sorted(set(raw) - set(SLA_KEYS)):
        problem(f"unknown sla key {key!r} (sla: {', '.join(SLA_KEYS)})")
    for key, value in raw.items():
        if key in SLA_KEYS and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            problem(f"sla.{key} is a positive whole number of working days")
    return {k: v for k, v in raw.items() if k in SLA_KEYS}


def _check_set(rules: list[Rule], declared: list[tuple[str, str, int, str]], problems: list[Problem]) -> None:
    seen: dict[str, str] = {}
    for rule_id, file, line, _when in declared:
        if not rule_id:
            continue
        if rule_id in seen:
            problems.append(Problem(file, line, rule_id, f"duplicate id (first used at {seen[rule_id]})"))
        else:
            seen[rule_id] = f"{file}:{line}"
    catch_all = next((r for r in rules if r.is_catch_all), None)
    if catch_all is not None:
        for rule in rules[rules.index(catch_all) + 1 :]:
            problems.append(
                Problem(
                    rule.file,
                    rule.line,
                    rule.id,
                    f"unreachable: the catch-all {catch_all.id} ({catch_all.source}) above always matches",
                )
            )
        return
    # A catch-all that failed for another reason has its own problem already.
    if declared and not any(when == "true" for *_rest, when in declared):
        rule_id, file, line, _when = declared[-1]
        problems.append(
            Problem(
                file,
                line,
                rule_id,
                'missing catch-all: the last rule must have when: "true" so every contact is routed',
            )
        )


# -- the expression tree -------------------------------------------------------------


def _is_literal(node: Any, value: bool) -> bool:
    return isinstance(node, re_ast.BooleanExpression) and node.value is value


def _conjuncts(node: Any) -> Iterable[Any]:
    if isinstance(node, re_ast.LogicExpression) and node.type == "and":
        yield from _conjuncts(node.left)
        yield from _conjuncts(node.right)
    else:
        yield node


def _literal(node: Any) -> tuple[bool, Any]:
    if isinstance(node, re_ast.StringExpression | re_ast.BooleanExpression | re_ast.FloatExpression):
        return True, node.value
    return False, None


def _guard(node: Any) -> Guard | None:
    if (
        isinstance(node, re_ast.ComparisonExpression)
        and type(node) is re_ast.ComparisonExpression
        and node.type == "eq"
    ):
        for sym, lit in ((node.left, node.right), (node.right, node.left)):
            ok, value = _literal(lit)
            if (
                isinstance(sym, re_ast.SymbolExpression)
                and ok
                and sym.name in ATTRIBUTE_TYPES
                and not isinstance(value, float)
            ):
                return Guard(sym.name, frozenset([value]))
    if isinstance(node, re_ast.ContainsExpression) and isinstance(node.member, re_ast.SymbolExpression):
        container = node.container
        if isinstance(container, re_ast.ArrayExpression | re_ast.SetExpression):
            values = [_literal(v) for v in container.value]
            if values and all(ok and isinstance(v, str) for ok, v in values):
                return Guard(node.member.name, frozenset(v for _ok, v in values))
    return None


def _literal_problems(node: Any, vocabulary: Vocabulary) -> Iterable[str]:
    """Comparisons that compile but can never be true: wrong types, unknown codes."""
    for sub in _walk(node):
        pairs: list[tuple[Any, Any]] = []
        if isinstance(sub, re_ast.ComparisonExpression) and sub.type in ("eq", "ne"):
            pairs = [(sub.left, sub.right), (sub.right, sub.left)]
        elif isinstance(sub, re_ast.ContainsExpression):
            member, container = sub.member, sub.container
            if isinstance(member, re_ast.SymbolExpression) and isinstance(
                container, re_ast.ArrayExpression | re_ast.SetExpression
            ):
                pairs = [(member, v) for v in container.value]
            elif isinstance(container, re_ast.SymbolExpression) and ATTRIBUTE_TYPES.get(container.name) == T.ARRAY(
                T.STRING
            ):
                ok, value = _literal(member)
                if ok:
                    yield from _check_value(container.name, T.STRING, value, vocabulary)
        elif isinstance(sub, re_ast.GetItemExpression) and isinstance(sub.container, re_ast.SymbolExpression):
            ok, value = _literal(sub.item)
            if ok:
                yield from _check_value(sub.container.name, T.STRING, value, vocabulary)
        for sym, lit in pairs:
            ok, value = _literal(lit)
            if isinstance(sym, re_ast.SymbolExpression) and ok and sym.name in ATTRIBUTE_TYPES:
                yield from _check_value(sym.name, ATTRIBUTE_TYPES[sym.name], value, vocabulary)


def _check_value(attribute: str, kind: Any, value: Any, vocabulary: Vocabulary) -> Iterable[str]:
    # A list, mapping or time never equals a text or boolean literal.
    python_type = {T.STRING: (str,), T.BOOLEAN: (bool,), T.FLOAT: (float, Decimal)}.get(kind, ())
    if type(value) not in python_type:
        yield f"{attribute} is {kind.name}, compared with {_lit(value)} it can never match"
        return
    known = vocabulary.values_of(attribute)
    if known is not None and isinstance(value, str) and value not in known:
        listed = ", ".join(sorted(v for v in known if v)[:12])
        yield f"unknown value {_lit(value)} for {attribute} (known: {listed}{', …' if len(known) > 13 else ''})"


def _walk(node: Any) -> Iterable[Any]:
    yield node
    for name in ("left", "right", "member", "container", "item", "expression", "case_true", "case_false", "condition"):
        child = getattr(node, name, None)
        if isinstance(child, re_ast.ExpressionBase):
            yield from _walk(child)
    if isinstance(node, re_ast.ArrayExpression | re_ast.SetExpression):
        for child in node.value:
            yield from _walk(child)


OPERATORS = {
    "eq": "==",
    "ne": "!=",
    "gt": ">",
    "ge": ">=",
    "lt": "<",
    "le": "<=",
    "eq_fzm": "=~",
    "eq_fzs": "=~~",
    "ne_fzm": "!~",
    "ne_fzs": "!~~",
    "and": "and",
    "or": "or",
}


def render(node: Any) -> str:
    """A node back as rule-engine text, to quote the part of a condition that was false."""
    if isinstance(node, re_ast.SymbolExpression):
        return node.name
    ok, value = _literal(node)
    if ok:
        return _lit(value)
    if isinstance(node, re_ast.UnaryExpression) and node.type == "not":
        return f"not {render(node.right)}"
    if isinstance(node, re_ast.LogicExpression):
        return f"({render(node.left)} {node.type} {render(node.right)})"
    if isinstance(node, re_ast.ComparisonExpression) and node.type in OPERATORS:
        return f"{render(node.left)} {OPERATORS[node.type]} {render(node.right)}"
    if isinstance(node, re_ast.ContainsExpression):
        return f"{render(node.member)} in {render(node.container)}"
    if isinstance(node, re_ast.ArrayExpression):
        return "[" + ", ".join(render(v) for v in node.value) + "]"
    if isinstance(node, re_ast.GetItemExpression):
        return f"{render(node.container)}[{render(node.item)}]"
    raise ValueError("not renderable")


def _symbols(node: Any) -> list[str]:
    names = []
    for sub in _walk(node):
        if isinstance(sub, re_ast.SymbolExpression) and sub.name not in names:
            names.append(sub.name)
    return names


def _lit(value: Any) -> str:
    # Most values are short strings and booleans: quote them without json.dumps.
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is str and PLAIN_TEXT.fullmatch(value):
        return f'"{value}"'
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        return format(value, "f").rstrip("0").rstrip(".") if "." in format(value, "f") else format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(STOCKHOLM).isoformat(timespec="minutes")
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value, ensure_ascii=False, default=str)


# -- deciding ---------------------------------------------------------------------------


def decide(ruleset: RuleSet, attributes: dict[str, Any]) -> Decision:
    """The first rule that matches `attributes`, and for every earlier rule why it did not."""
    trace: list[dict[str, str]] = []
    for rule in ruleset.rules:
        why = _why_not(rule, attributes)
        if why is None:
            return Decision(
                rule_id=rule.id,
                queue_code=rule.route_to,
                priority=rule.priority,
                ruleset_version=ruleset.version,
                attributes=attributes,
                trace=trace,
                targets=rule.targets,
                skills=rule.skills,
                sla=rule.sla,
                description=rule.description,
            )
        trace.append({"rule": rule.id, "why": why})
    # load_rules refuses a set without a catch-all, so this means a hand-built RuleSet.
    raise RuleSetError(["no rule matched: the rule set lacks a catch-all"])


def _why_not(rule: Rule, attributes: dict[str, Any]) -> str | None:
    """None when the rule matches; otherwise the reason, in Swedish, for the decision record."""
    for guard in rule.guards:
        value = attributes[guard.attribute]
        if value not in guard.allowed:
            return guard.why(value)
    # The remaining conjuncts in order: the same short-circuit as the expression's `and`,
    # and the first false one is the reason.
    for check in rule.residual:
        if not check.test(attributes):
            return _describe_false(check, attributes)
    return None


def _describe_false(check: Check, attributes: Mapping[str, Any]) -> str:
    if check.text is None:
        return "villkoret är falskt"
    seen = ", ".join(f"{name} = {_lit(attributes.get(name))}" for name in check.symbols)
    return f"{check.text} är falskt" + (f" ({seen})" if seen else "")


def normalise_attributes(raw: Mapping[str, Any], *, complete: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Attributes from JSON or tests: every attribute present, each of its schema type.

    Missing attributes take `complete`'s value or the schema default; unknown names and
    wrong types raise ValueError naming the attribute.
    """
    unknown = sorted(set(raw) - set(ATTRIBUTE_TYPES))
    if unknown:
        raise ValueError(f"unknown attribute(s) {', '.join(unknown)}; known: {', '.join(ATTRIBUTE_TYPES)}")
    out: dict[str, Any] = {}
    for attr in ATTRIBUTES:
        if attr.name in raw:
            value = raw[attr.name]
        elif complete is not None and attr.name in complete:
            value = complete[attr.name]
        else:
            value = attr.default
        out[attr.name] = _coerce(attr, value)
    return out


def _coerce(attr: Attribute, value: Any) -> Any:
    kind = attr.type
    if kind == T.STRING and isinstance(value, str):
        return value
    if kind == T.BOOLEAN and isinstance(value, bool):
        return value
    if kind == T.ARRAY(T.STRING) and isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if kind == T.DATETIME:
        if value is None:
            return datetime(2026, 1, 1, tzinfo=STOCKHOLM)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{attr.name}: {value!r} is not an ISO 8601 time") from None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=STOCKHOLM)
    if kind == T.MAPPING(T.STRING, T.BOOLEAN):
        if value is None:
            return {}
        if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, bool) for k, v in value.items()):
            return dict(value)
    raise ValueError(f"{attr.name} must be {kind.name.lower()} ({attr.doc}), not {value!r}")


def describe(decision: Decision) -> str:
    """The decision as text, for `kontaktcenter rules explain` and logs."""
    lines = [f"queue: {decision.queue_code}", f"rule: {decision.rule_id} (rule set {decision.ruleset_version})"]
    if decision.description:
        lines.append(f"because: {decision.description}")
    if len(decision.targets) > 1:
        steps = " → ".join(
            f"{t.queue}" + (f" ({_minutes(t.timeout)} working time)" if t.timeout else "") for t in decision.targets
        )
        lines.append(f"route: {steps}")
    if decision.priority is not None:
        lines.append(f"priority: {decision.priority}")
    if decision.skills:
        lines.append("skills: " + ", ".join(f"{k}={v}" for k, v in decision.skills.items()))
    if decision.sla:
        lines.append("sla: " + ", ".join(f"{k}={v}" for k, v in decision.sla.items()))
    if decision.trace:
        lines.append("earlier rules that did not match:")
        lines.extend(f"  {step['rule']}: {step['why']}" for step in decision.trace)
    lines.append("attributes:")
    lines.extend(f"  {name} = {_lit(value)}" for name, value in decision.attributes.items())
    return "\n".join(lines)


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"
