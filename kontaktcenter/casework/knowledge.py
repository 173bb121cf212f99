"""The knowledge base: short answers per service, kept by the owning department's coordinator."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..database import utcnow
from ..directory.models import Service, User
from ..tickets.service import TicketError, record_event
from .models import KnowledgeArticle

MAX_TITLE = 200
MAX_BODY = 4000


class KnowledgeError(TicketError):
    """A knowledge-base change that cannot be made; the message says why."""


def can_edit(user: User, service: Service) -> bool:
    """The owning department's coordinator keeps its answers; administrators may help."""
    if user.role == "admin":
        return True
    return user.role == "coordinator" and user.department_id == service.department_id


def editable_services(session: Session, user: User) -> list[Service]:
    stmt = select(Service).where(Service.active.is_(True)).order_by(Service.name_sv)
    if user.role != "admin":
        stmt = stmt.where(Service.department_id == user.department_id)
    return list(session.scalars(stmt)) if user.role in ("admin", "coordinator") else []


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def search(
    session: Session, query: str = "", *, service_id: int | None = None, include_inactive: bool = False, limit: int = 50
) -> list[KnowledgeArticle]:
    """Articles whose title, text or service name contain every word of `query`."""
    stmt = select(KnowledgeArticle).join(Service, Service.id == KnowledgeArticle.service_id)
    if not include_inactive:
        stmt = stmt.where(KnowledgeArticle.active.is_(True))
    if service_id is not None:
        stmt = stmt.where(KnowledgeArticle.service_id == service_id)
    for word in query.split()[:8]:
        pattern = _like(word)
        stmt = stmt.where(
            or_(
                func.lower(KnowledgeArticle.title).like(pattern, escape="\\"),
                func.lower(KnowledgeArticle.body).like(pattern, escape="\\"),
                func.lower(Service.name_sv).like(pattern, escape="\\"),
                func.lower(Service.code).like(pattern, escape="\\"),
            )
        )
    return list(session.scalars(stmt.order_by(Service.name_sv, KnowledgeArticle.title).limit(limit)))


def _validate(title: str, body: str) -> tuple[str, str]:
    title, body = title.strip(), body.strip()
    if not title:
        raise KnowledgeError("Ange en rubrik.")
    if not body:
        raise KnowledgeError("Skriv svaret.")
    if len(title) > MAX_TITLE:
        raise KnowledgeError("Rubriken får vara högst 200 tecken.")
    if len(body) > MAX_BODY:
        raise KnowledgeError("Svaret får vara högst 4 000 tecken.")
    return title, body


def create_article(session: Session, user: User, service: Service, title: str, body: str) -> KnowledgeArticle:
    if not can_edit(user, service):
        raise KnowledgeError("Bara förvaltningens samordnare kan skriva svar för den här tjänsten.")
    title, body = _validate(title, body)
    article = KnowledgeArticle(
        service=service, title=title, body=body, active=True, updated_by_id=user.id, updated_at=utcnow()
    )
    session.add(article)
    return article


def update_article(
    session: Session, user: User, article: KnowledgeArticle, *, service: Service, title: str, body: str, active: bool
) -> None:
    if not can_edit(user, article.service) or not can_edit(user, service):
        raise KnowledgeError("Bara förvaltningens samordnare kan ändra svar för den här tjänsten.")
    article.title, article.body = _validate(title, body)
    article.service = service
    article.active = active
    article.updated_by_id = user.id
    article.updated_at = utcnow()


def record_use(session: Session, ticket, user: User, article: KnowledgeArticle) -> None:
    """An agent used an article's answer on a ticket: an event, so kb_answered can count it."""
    if not article.active:
        raise KnowledgeError("Svaret finns inte längre i kunskapsbanken.")
    record_event(session, ticket, "knowledge_used", actor=user, to_value=str(article.id), service_id=article.service_id)
