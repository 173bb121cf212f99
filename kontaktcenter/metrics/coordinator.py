"""The coordinator's view: a department's services, escalations, SLA and knowledge base."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..casework.models import Escalation, KnowledgeArticle
from ..directory.models import Department, Service
from ..tickets.models import OPEN_STATUSES, Ticket
from .engine import Filters, ReportQuery, period_bounds, records, report
from .sqlfuncs import seconds_between


def coordinator_view(session: Session, calendar, department: Department, query: ReportQuery, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    lo, hi = period_bounds(query.start, query.end)
    filters = Filters(department=department.code)
    services = records(report(session, ReportQuery(query.start, query.end, by=("service",), filters=filters, as_of=query.as_of), calendar))
    (total,) = records(report(session, ReportQuery(query.start, query.end, filters=filters, as_of=query.as_of), calendar))
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
        select(func.count(t.id)).where(dept_ticket, t.first_arrived_at >= lo, t.first_arrived_at < hi, t.sla_breached.is_(True))
    )
    overdue = session.scalar(
        select(func.count(t.id)).where(dept_ticket, t.status.in_(OPEN_STATUSES), t.resolve_due_at.isnot(None), t.resolve_due_at < now)
    )
    articles = session.execute(
        select(KnowledgeArticle.title, KnowledgeArticle.updated_at, Service.code, Service.name_sv)
        .join(Service, Service.id == KnowledgeArticle.service_id)
        .where(Service.department_id == department.id, KnowledgeArticle.active.is_(True))
        .order_by(Service.code, KnowledgeArticle.title)
    ).all()
    fcr_by_service = {r["service"]: r["fcr_rate"] for r in services}
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
        "articles": [
            {"title": title, "updated_at": updated, "service": code, "service_name": name, "fcr_rate": fcr_by_service.get(code)}
            for title, updated, code, name in articles
        ],
    }
