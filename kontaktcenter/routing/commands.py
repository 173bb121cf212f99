"""`kontaktcenter rules check|explain|backtest`: validate, explain and try out routing rules."""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..database import db
from ..vocabulary import WEEKDAYS
from ..worktime.calendar import STOCKHOLM, current_calendar
from .engine import (
    Decision,
    RuleSet,
    RuleSetError,
    Vocabulary,
    check_rules,
    decide,
    describe,
    load_rules,
    normalise_attributes,
)
from .service import attributes_json, contact_attributes, vocabulary_from_db


def register(app: Flask) -> None:
    @app.cli.group("rules")
    def rules() -> None:
        """Routing rules (routing_rules/*.yaml): check, explain, backtest."""

    @rules.command("check")
    @click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
    def check(directory: Path | None) -> None:
        """Validate the rule files in DIRECTORY (default: RULES_DIR); exit 1 on any problem."""
        directory = directory or Path(current_app.config["RULES_DIR"])
        vocabulary, source = directory_vocabulary()
        problems = check_rules(directory, vocabulary)
        for problem in problems:
            click.echo(str(problem))
        if problems:
            click.echo(f"{len(problems)} problem(s) in {directory}: this rule set would be refused.", err=True)
            sys.exit(1)
        ruleset = load_rules(directory, vocabulary)
        click.echo(
            f"ok: {len(ruleset.rules)} rules in {len(ruleset.files)} files, version {ruleset.version} "
            f"(codes checked against {source})"
        )

    @rules.command("explain")
    @click.argument("file", type=click.File("r", encoding="utf-8"))
    @click.option(
        "--rules",
        "directory",
        type=click.Path(file_okay=False, path_type=Path),
        help="rule directory (default: RULES_DIR)",
    )
    @click.option("--json", "as_json", is_flag=True, help="print the decision as JSON")
    def explain(file, directory: Path | None, as_json: bool) -> None:
        """Print the decision for one contact given as JSON attributes (FILE, or - for stdin).

        Attributes left out take their defaults; department and confidential follow from
        service, and the time attributes from arrived_at (default: now).
        """
        directory = directory or Path(current_app.config["RULES_DIR"])
        vocabulary, _source = directory_vocabulary()
        try:
            data = json.load(file)
        except json.JSONDecodeError as exc:
            fail(f"{file.name}:{exc.lineno}: not valid JSON: {exc.msg}")
        if not isinstance(data, dict):
            fail(f"{file.name}:1: expected a JSON object of contact attributes")
        try:
            attributes = attributes_for_explain(data, vocabulary)
        except ValueError as exc:
            fail(f"{file.name}: {exc}")
        ruleset = load_or_fail(directory, vocabulary)
        decision = decide(ruleset, attributes)
        if as_json:
            click.echo(json.dumps(decision_json(decision), ensure_ascii=False, indent=2))
        else:
            click.echo(describe(decision))

    @rules.command("backtest")
    @click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
    @click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="first local date")
    @click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="last local date (included)")
    @click.option(
        "--against",
        type=click.Path(file_okay=False, path_type=Path),
        help="rules to compare with (default: RULES_DIR, the rules in force)",
    )
    @click.option("--show", default=50, show_default=True, help="how many catch-all contacts to list")
    @click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
    def backtest(
        directory: Path, start: datetime, end: datetime, against: Path | None, show: int, as_json: bool
    ) -> None:
        """Route the stored contacts of a period with the rules in DIRECTORY; change nothing.

        Prints where their tickets go under the rules in force and under the candidate
        (queue → queue counts), and the contacts that would now hit the catch-all.
        """
        if end < start:
            fail("--to is before --from")
        vocabulary, _source = directory_vocabulary()
        candidate = load_or_fail(directory, vocabulary)
        in_force = load_or_fail(against or Path(current_app.config["RULES_DIR"]), vocabulary)
        try:
            result = run_backtest(db.session, in_force, candidate, start.date(), end.date())
        finally:
            # Read-only by contract: whatever the session saw is thrown away.
            db.session.rollback()
        if as_json:
            result["catch_all"] = result["catch_all"][:show]
            click.echo(json.dumps(result, ensure_ascii=False, indent=2))
            return
        print_backtest(result, show)


def fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


def directory_vocabulary() -> tuple[Vocabulary, str]:
    """The database's codes when it has a directory; otherwise the demo catalogue's."""
    try:
        vocabulary = vocabulary_from_db(db.session)
    except SQLAlchemyError:
        db.session.rollback()
        vocabulary = None
    if vocabulary is not None:
        return vocabulary, "the database"
    return Vocabulary.from_catalogue(), "the demo catalogue (the database has no queues)"


def load_or_fail(directory: Path, vocabulary: Vocabulary) -> RuleSet:
    try:
        return load_rules(directory, vocabulary)
    except RuleSetError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        fail(f"the rules in {directory} are not valid; nothing was routed")
        raise  # unreachable: fail() exits


def attributes_for_explain(data: dict[str, Any], vocabulary: Vocabulary) -> dict[str, Any]:
    """JSON attributes, completed: department/confidential from service, time from arrived_at."""
    derived: dict[str, Any] = {}
    service_code = data.get("service", "")
    if service_code:
        from ..directory.catalogue import malmo

        owner = {code: (s.values["department"], s.values["confidential"]) for code, s in malmo()["services"].items()}
        if vocabulary.services and service_code not in vocabulary.services:
            raise ValueError(f"unknown service {service_code!r}")
        if service_code in owner:
            derived["department"], derived["confidential"] = owner[service_code]
    raw_at = data.get("arrived_at")
    try:
        at = datetime.fromisoformat(raw_at) if isinstance(raw_at, str) else datetime.now(STOCKHOLM)
    except ValueError:
        raise ValueError(f"arrived_at: {raw_at!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=STOCKHOLM)
    local = at.astimezone(STOCKHOLM)
    calendar = current_calendar()
    hours_code = service_code if service_code and calendar.has_own_hours(service_code) else "default"
    # As contact_attributes: working_day/eve follow the service's department's klämdagar.
    department = derived.get("department") or data.get("department") or None
    derived.update(
        arrived_at=local,
        weekday=WEEKDAYS[local.weekday()],
        local_time=local.strftime("%H:%M"),
        local_date=local.date().isoformat(),
        working_day=calendar.is_working_day(local.date(), department),
        eve=calendar.is_eve(local.date(), department),
        open_hours=calendar.is_open(hours_code, at),
        queue_open={code: calendar.is_open(code, at) for code in sorted(vocabulary.queues)},
    )
    if "needs" in data and "interpreter" in (data.get("needs") or []) and "interpreter_language" not in data:
        derived["interpreter_language"] = data.get("language", "")
    return normalise_attributes({k: v for k, v in data.items()}, complete=derived)


def decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "rule": decision.rule_id,
        "queue": decision.queue_code,
        "ruleset_version": decision.ruleset_version,
        "description": decision.description,
        "targets": [t.as_json() for t in decision.targets],
        "priority": decision.priority,
        "skills": dict(decision.skills),
        "sla": dict(decision.sla),
        "trace": decision.trace,
        "attributes": attributes_json(decision.attributes),
    }


def run_backtest(session, in_force: RuleSet, candidate: RuleSet, start: date, end: date) -> dict[str, Any]:
    """Both rule sets over the contacts that arrived on local dates start..end (read-only)."""
    from ..contacts.models import Contact
    from ..tickets.models import Ticket

    lower = datetime.combine(start, time(0), tzinfo=STOCKHOLM)
    upper = datetime.combine(end + timedelta(days=1), time(0), tzinfo=STOCKHOLM)
    rows = session.execute(
        select(Contact, Ticket.reference)
        .join(Ticket, Ticket.id == Contact.ticket_id)
        .where(Contact.arrived_at >= lower, Contact.arrived_at < upper)
        .order_by(Contact.arrived_at, Contact.id)
    ).all()
    calendar = current_calendar()
    queues = in_force.queues | candidate.queues
    moves: Counter[tuple[str, str]] = Counter()
    rule_moves: Counter[tuple[str, str]] = Counter()
    catch_all_id = candidate.rules[-1].id
    catch_all: list[dict[str, Any]] = []
    for contact, reference in rows:
        attributes = contact_attributes(session, contact, calendar=calendar, queues=queues)
        before = decide(in_force, attributes)
        after = decide(candidate, attributes)
        moves[(before.queue_code, after.queue_code)] += 1
        if before.rule_id != after.rule_id:
            rule_moves[(before.rule_id, after.rule_id)] += 1
        if after.rule_id == catch_all_id and before.rule_id != in_force.rules[-1].id:
            catch_all.append(
                {
                    "reference": reference,
                    "arrived_at": contact.arrived_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M"),
                    "channel": contact.channel,
                    "service": attributes["service"],
                    "was": f"{before.rule_id} → {before.queue_code}",
                }
            )
    changed = sum(n for (a, b), n in moves.items() if a != b)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "contacts": len(rows),
        "changed": changed,
        "in_force_version": in_force.version,
        "candidate_version": candidate.version,
        "moves": [
            {"from_queue": a, "to_queue": b, "contacts": n}
            for (a, b), n in sorted(moves.items(), key=lambda item: (item[0][0] == item[0][1], -item[1], item[0]))
        ],
        "rule_changes": [{"from_rule": a, "to_rule": b, "contacts": n} for (a, b), n in rule_moves.most_common()],
        "catch_all_count": len(catch_all),
        "catch_all": catch_all,
    }


def print_backtest(result: dict[str, Any], show: int) -> None:
    click.echo(
        f"Backtest {result['from']} – {result['to']}: {result['contacts']} contacts; rules in force "
        f"{result['in_force_version']}, candidate {result['candidate_version']}."
    )
    click.echo(f"{result['changed']} contact(s) would go to another queue.\n")
    width = max([len("in force"), *(len(m["from_queue"]) for m in result["moves"])])
    width2 = max([len("candidate"), *(len(m["to_queue"]) for m in result["moves"])])
    click.echo(f"{'in force':<{width}}  {'candidate':<{width2}}  {'contacts':>8}")
    click.echo(f"{'-' * width}  {'-' * width2}  {'-' * 8}")
    for move in result["moves"]:
        mark = "" if move["from_queue"] == move["to_queue"] else "  *changed*"
        click.echo(f"{move['from_queue']:<{width}}  {move['to_queue']:<{width2}}  {move['contacts']:>8}{mark}")
    if result["rule_changes"]:
        click.echo("\nRule changes (in force → candidate):")
        for change in result["rule_changes"]:
            click.echo(f"  {change['from_rule']} → {change['to_rule']}: {change['contacts']}")
    click.echo(f"\n{result['catch_all_count']} contact(s) would now hit the catch-all:")
    for row in result["catch_all"][:show]:
        click.echo(
            f"  {row['reference']}  {row['arrived_at']}  {row['channel']:<8} {row['service'] or '-':<22} was {row['was']}"
        )
    if result["catch_all_count"] > show:
        click.echo(f"  … and {result['catch_all_count'] - show} more (--show N lists more)")
