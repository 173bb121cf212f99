"""Routing a contact: its attributes, the rule set in force, the stored decision."""
from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from ..contacts.models import Contact
from ..tickets.models import Ticket
from .engine import Decision, RuleSet, decide, load_rules
from .models import RoutingDecision

_ruleset: RuleSet | None = None


def ruleset_in_force() -> RuleSet:
    global _ruleset
    if _ruleset is None:
        _ruleset = load_rules(current_app.config["RULES_DIR"])
    return _ruleset


def contact_attributes(session: Session, contact: Contact) -> dict[str, Any]:
    service = contact.service
    return {
        "channel": contact.channel,
        "service": service.code if service else "",
        "department": service.department.code if service else "",
        "language": contact.language,
        "needs": tuple(contact.needs),
        "location": contact.location.code if contact.location else "",
        "text": contact.text or "",
    }


def route_contact(session: Session, contact: Contact) -> Decision:
    return decide(ruleset_in_force(), contact_attributes(session, contact))


def record_decision(session: Session, ticket: Ticket, contact: Contact, decision: Decision) -> RoutingDecision:
    record = RoutingDecision(
        ticket=ticket,
        contact=contact,
        rule_id=decision.rule_id,
        ruleset_version=decision.ruleset_version,
        queue_code=decision.queue_code,
        attributes=decision.attributes,
        trace=decision.trace,
    )
    session.add(record)
    return record
