"""The Service development report (tjänsteutveckling, METRICS.md): repeat contacts, failure
demand, knowledge-base use, grouped like the core report; and what the page shows beside
the figures (top reasons, returned escalations, services with low first-contact resolution
and no knowledge-base article).

Three aggregate queries (contacts, repeat contacts, tickets), run side by side on
PostgreSQL like the core report's; pandas merges them and computes the rates.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from ..casework.models import Escalation, KnowledgeArticle
from ..contacts.models import Contact
from ..directory.models import ContactReason, Department, Location, Service
from ..tickets.models import Ticket, TicketEvent
from .engine import (
    ReportQuery,
    _filter_conditions,
    _frames,
    _key_columns,
    _needs_department,
    _needs_location,
    _sum,
    check_period,
    merge_count_frames,
    period_bounds,
    rate,
    records,
    ticket_conditions,
    ticket_statement,
)
from .repeats import identified, repeat_ids

FIGURES: list[tuple[str, str]] = [
    ("contacts", "count"),
    ("identified_contacts", "count"),
    ("repeat_contacts", "count"),
    ("repeat_rate", "rate"),
    ("reasoned_contacts", "count"),
    ("failure_demand", "count"),
    ("failure_demand_rate", "rate"),
    ("kb_answered", "count"),
]
FIGURE_NAMES = [name for name, _kind in FIGURES]
FIGURE_KINDS = dict(FIGURES)
COUNTS = ("contacts", "identified_contacts", "repeat_contacts", "reasoned_contacts", "failure_demand", "kb_answered")
KNOWLEDGE_USED = "knowledge_used"  # the ticket event of an article used (casework/knowledge.py)


def _contact_from(query: ReportQuery, columns: list, c=Contact):
    s, d, loc = Service, Department, Location
    stmt = select(*columns).select_from(c).outerjoin(s, s.id == c.service_id)
    if _needs_department(query):
        stmt = stmt.outerjoin(d, d.id == s.department_id)
    if _needs_location(query):
        stmt = stmt.outerjoin(loc, loc.id == c.location_id)
    return stmt


def contact_statement(query: ReportQuery):
    """contacts, identified_contacts, reasoned_contacts, failure_demand per group."""
    c, r = Contact, ContactReason
    lo, hi = period_bounds(query.start, query.end)
    keys = _key_columns(query, c, Service, Department, Location, c.arrived_at)
    stmt = _contact_from(
        query,
        [
            *keys,
            func.count(c.id).label("contacts"),
            _sum(identified(c)).label("identified_contacts"),
            _sum(c.reason_id.is_not(None)).label("reasoned_contacts"),
            _sum(r.category == "failure").label("failure_demand"),
        ],
    ).outerjoin(r, r.id == c.reason_id)
    stmt = stmt.where(
        c.arrived_at >= lo, c.arrived_at < hi, *_filter_conditions(query.filters, c, Service, Department, Location)
    )
    return stmt.group_by(*keys) if keys else stmt


def repeat_statement(query: ReportQuery):
    """repeat_contacts per group: the period's contacts with an earlier one of the same
    citizen on the same service within 168 h (looking back before the period too)."""
    c = Contact
    lo, hi = period_bounds(query.start, query.end)
    keys = _key_columns(query, c, Service, Department, Location, c.arrived_at)
    services = None
    if query.filters.service or query.filters.department:
        services = (
            select(Service.id)
            .join(Department, Department.id == Service.department_id)
            .where(
                *([Service.code == query.filters.service] if query.filters.service else []),
                *([Department.code == query.filters.department] if query.filters.department else []),
            )
        )
    repeats = repeat_ids(lo, hi, services)
    stmt = (
        _contact_from(query, [*keys, func.count(c.id).label("repeat_contacts")])
        .join(repeats, repeats.c.id == c.id)
        .where(
            c.arrived_at >= lo, c.arrived_at < hi, *_filter_conditions(query.filters, c, Service, Department, Location)
        )
    )
    return stmt.group_by(*keys) if keys else stmt


def kb_statement(query: ReportQuery):
    """kb_answered per group: tickets resolved by the kontaktcenter where an article was used.

    A ticket is grouped as in the core report: the period of its first contact, that
    contact's channel, location and language.
    """
    t = Ticket
    used = exists(select(1).where(TicketEvent.ticket_id == t.id, TicketEvent.kind == KNOWLEDGE_USED))
    return ticket_statement(
        query,
        extra_where=[ticket_conditions(t)["resolved_kontaktcenter"], used],
        counts=lambda t: [func.count(t.id).label("kb_answered")],
    )


def development_report(session: Session, query: ReportQuery) -> pd.DataFrame:
    """One row per group: every figure of METRICS.md "Service development", in its order."""
    check_period(query.start, query.end)
    keys = query.group_columns
    frames = _frames(session, [contact_statement(query), repeat_statement(query), kb_statement(query)], keys)
    return shape(merge_count_frames(frames, keys, COUNTS), keys)


def total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The one row for all of `rows` (every count is per contact or ticket, so they add up)."""
    frame = pd.DataFrame([{name: sum(r[name] for r in rows) for name in COUNTS}])
    return records(shape(frame, []))[0]


def shape(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({k: frame[k].fillna("").astype(str) for k in keys}, index=frame.index)
    for name in COUNTS:
        out[name] = frame[name]
    out["repeat_rate"] = [
        rate(n, d) for n, d in zip(frame["repeat_contacts"], frame["identified_contacts"], strict=True)
    ]
    out["failure_demand_rate"] = [
        rate(n, d) for n, d in zip(frame["failure_demand"], frame["reasoned_contacts"], strict=True)
    ]
    out = out[list(keys) + FIGURE_NAMES]
    if keys:
        out = out.sort_values(list(keys), kind="stable")
    return out.reset_index(drop=True)


# -- beside the figures: what a department should look at ---------------------------------


def top_reasons(session: Session, query: ReportQuery, per_service: int = 5) -> list[dict[str, Any]]:
    """Per service, its most given reasons in the period (contacts, category, share of the service's reasoned)."""
    c, r, s, d = Contact, ContactReason, Service, Department
    lo, hi = period_bounds(query.start, query.end)
    stmt = (
        select(s.code, s.name_sv, s.name_en, r.code, r.name_sv, r.name_en, r.category, func.count(c.id))
        .select_from(c)
        .join(r, r.id == c.reason_id)
        .join(s, s.id == c.service_id)
        .join(d, d.id == s.department_id)
        .where(
            c.arrived_at >= lo,
            c.arrived_at < hi,
            *_filter_conditions(query.filters, c, s, d, Location),
        )
        .group_by(s.code, s.name_sv, s.name_en, r.code, r.name_sv, r.name_en, r.category)
    )
    if query.filters.location:
        stmt = stmt.outerjoin(Location, Location.id == c.location_id)
    by_service: dict[str, dict[str, Any]] = {}
    for code, name_sv, name_en, reason, reason_sv, reason_en, category, n in session.execute(stmt):
        entry = by_service.setdefault(
            code, {"service": code, "name_sv": name_sv, "name_en": name_en, "reasoned": 0, "reasons": []}
        )
        entry["reasoned"] += n
        entry["reasons"].append(
            {
                "code": reason,
                "name_sv": reason_sv,
                "name_en": reason_en or reason_sv,
                "category": category,
                "contacts": n,
            }
        )
    out = []
    for entry in sorted(by_service.values(), key=lambda e: (-e["reasoned"], e["service"])):
        entry["reasons"].sort(key=lambda x: (-x["contacts"], x["code"]))
        entry["reasons"] = entry["reasons"][:per_service]
        for reason in entry["reasons"]:
            reason["share"] = rate(reason["contacts"], entry["reasoned"])
        out.append(entry)
    return out


def returned_escalations(session: Session, query: ReportQuery, limit: int = 100) -> list[dict[str, Any]]:
    """Escalations the department sent back to the first line in the period, with why and the contact reason."""
    e, t, s, d = Escalation, Ticket, Service, Department
    lo, hi = period_bounds(query.start, query.end)
    stmt = (
        select(e.returned_at, e.return_reason, t.reference, s.code, s.name_sv, s.name_en, d.name_sv, d.name_en, t.id)
        .join(t, t.id == e.ticket_id)
        .join(d, d.id == e.department_id)
        .outerjoin(s, s.id == t.service_id)
        .where(e.returned_at.is_not(None), e.returned_at >= lo, e.returned_at < hi, t.restriction == "")
        .order_by(e.returned_at.desc())
        .limit(limit)
    )
    if query.filters.department:
        stmt = stmt.where(d.code == query.filters.department)
    if query.filters.service:
        stmt = stmt.where(s.code == query.filters.service)
    rows = session.execute(stmt).all()
    reasons: dict[int, list[tuple[str, str, str]]] = {}
    ticket_ids = [row[-1] for row in rows]
    if ticket_ids:
        for ticket_id, name_sv, name_en, category in session.execute(
            select(Contact.ticket_id, ContactReason.name_sv, ContactReason.name_en, ContactReason.category)
            .join(ContactReason, ContactReason.id == Contact.reason_id)
            .where(Contact.ticket_id.in_(ticket_ids))
            .distinct()
        ):
            reasons.setdefault(ticket_id, []).append((name_sv, name_en or name_sv, category))
    return [
        {
            "returned_at": returned_at,
            "return_reason": why,
            "reference": reference,
            "service": code,
            "service_sv": service_sv,
            "service_en": service_en,
            "department_sv": department_sv,
            "department_en": department_en,
            "reasons": reasons.get(ticket_id, []),
        }
        for returned_at, why, reference, code, service_sv, service_en, department_sv, department_en, ticket_id in rows
    ]


def low_fcr_without_article(session: Session, services: list[dict], city_fcr: float | None) -> list[dict[str, Any]]:
    """Services whose first-contact resolution is below the city's and that have no active article.

    `services`: the core report's rows by service for the period; `city_fcr`: its fcr_rate
    for all services. Lowest first: where an answer in the knowledge base may help most.
    """
    with_article = set(
        session.scalars(
            select(Service.code)
            .join(KnowledgeArticle, KnowledgeArticle.service_id == Service.id)
            .where(KnowledgeArticle.active.is_(True))
        )
    )
    rows = [
        r
        for r in services
        if r["service"]
        and r["tickets"]
        and r["fcr_rate"] is not None
        and (city_fcr is None or r["fcr_rate"] < city_fcr)
        and r["service"] not in with_article
    ]
    return sorted(rows, key=lambda r: (r["fcr_rate"], -r["tickets"], r["service"]))
