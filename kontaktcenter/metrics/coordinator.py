"""The coordinator's view: a department's services, escalations, SLA and knowledge base."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..casework.models import Escalation, KnowledgeArticle
from ..directory.models import Department, Service
from ..tickets.models import Ticket
from ..vocabulary import OPEN_STATUSES
from .engine import Filters, ReportQuery, period_bounds, records
from .report import report
from .sqlfuncs import seconds_between


def coordinator_view(
    session: Session,
    calendar,
    department: Department,
    query: ReportQuery,
    now: datetime | None = None,
    locale: str = "sv",
) -> dict:
    now = now or datetime.now(UTC)
    lo, hi = period_bounds(query.start, query.end)
    filters = Filters(department=department.code)
    services = records(
        report(
            session, ReportQuery(query.start, query.end, by=("service",), filters=filters, as_of=query.as_of), calendar
        )
    )
    (total,) = records(
        report(session, ReportQuery(query.start, query.end, filters=filters, as_of=query.as_of), calendar)
    )
    e = Escalation
    escalations = session.execute(
        select(
            func.count(e.id),
            func.count(e.accepted_at),
            func.count(e.returned_at),
            func.avg(seconds_between(e.accepted_at, e.created_at)),
        ).where(e.department_id == department.id, e.created_at >= lo, e.created_at < hi)
    ).one()
    t = Ticket
    dept_ticket = t.service_id.in_(select(Service.id).where(Service.department_id == department.id))
    breached = session.scalar(
        select(func.count(t.id)).where(
            dept_ticket, t.first_arrived_at >= lo, t.first_arrived_at < hi, t.sla_breached.is_(True)
        )
    )
    overdue = session.scalar(
        select(func.count(t.id)).where(
            dept_ticket, t.status.in_(OPEN_STATUSES), t.resolve_due_at.isnot(None), t.resolve_due_at < now
        )
    )
    articles = session.execute(
        select(KnowledgeArticle.title, KnowledgeArticle.updated_at, Service.code)
        .join(Service, Service.id == KnowledgeArticle.service_id)
        .where(Service.department_id == department.id, KnowledgeArticle.active.is_(True))
        .order_by(Service.code, KnowledgeArticle.title)
    ).all()
    own_services = session.execute(
        select(Service.code, Service.name_sv, Service.name_en).where(Service.department_id == department.id)
    ).all()
    count, accepted, returned, accept_seconds = escalations
    return {
        "department": department,
        "services": services,
        "total": total,
        "escalations": {
            "created": count,
            "accepted": accepted,
            "returned": returned,
            "waiting": count - accepted - returned if count >= accepted + returned else 0,
            "mean_hours_to_accept": None if accept_seconds is None else round(float(accept_seconds) / 3600, 2),
        },
        "sla": {"breached": breached or 0, "overdue_open": overdue or 0},
        "knowledge": knowledge_behind_fcr(services, articles, own_services, locale),
    }


def knowledge_behind_fcr(services: list[dict], articles, own_services, locale: str = "sv") -> list[dict]:
    """Per service: its first-contact resolution beside the answers the agents have for it.

    Services with tickets come first, lowest direktlösningsgrad first: where a missing
    or outdated answer costs the citizen a second contact or an escalation.
    """
    figures = {r["service"]: r for r in services}
    by_service: dict[str, list[dict]] = {}
    for title, updated_at, code in articles:
        by_service.setdefault(code, []).append({"title": title, "updated_at": updated_at})
    rows = []
    for code, name_sv, name_en in own_services:
        row = figures.get(code, {})
        rows.append(
            {
                "service": code,
                "service_name": name_en if locale == "en" and name_en else name_sv,
                "tickets": row.get("tickets", 0),
                "resolved_first_contact": row.get("resolved_first_contact", 0),
                "fcr_rate": row.get("fcr_rate"),
                "articles": by_service.get(code, []),
            }
        )
    rows.sort(key=lambda r: (r["tickets"] == 0, r["fcr_rate"] if r["fcr_rate"] is not None else 2, r["service"]))
    return rows
