"""Tables of the directory: förvaltningar, tjänster, köer, platser and staff users."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, CheckConstraint, Column, ForeignKey, String, Table, Text, UniqueConstraint, false
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import Base, utcnow
from ..vocabulary import LOCATION_KINDS, ROLES

# "missed": an offered call rang out unanswered; away until the agent says they are back.
PRESENCE = ("available", "busy", "away", "offline", "missed")
QUEUE_KINDS = ("first_line", "department")
# Contact reasons (METRICS.md "Service development"): the citizen's own need, or demand
# the city caused by not doing something or not doing it right.
REASON_CATEGORIES = ("value", "failure")
# Every service's list holds these two, so an agent can always pick a reason.
OTHER_REASONS = {
    "annat-varde": ("Annat ärende", "value"),
    "annat-fel": ("Annat som staden borde ha gjort eller gjort rätt", "failure"),
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def localised(locale: str, sv: str, en: str | None, ar: str | None = None) -> str:
    """A name in the reader's language: the directory's English or Arabic where it has one,
    else the Swedish (the name on the city's letters and signs, never an empty label)."""
    if locale == "ar" and ar:
        return ar
    if locale == "en" and en:
        return en
    return sv


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_sv: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    name_ar: Mapped[str | None] = mapped_column(String(200))
    # The kontaktcenter itself (Serviceförvaltningen's contact center) is a department too.
    is_contact_center: Mapped[bool] = mapped_column(Boolean, default=False)

    services: Mapped[list[Service]] = relationship(back_populates="department")
    queues: Mapped[list[Queue]] = relationship(back_populates="department")

    def name(self, locale: str = "sv") -> str:
        return localised(locale, self.name_sv, self.name_en, self.name_ar)


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("answer_target_seconds > 0", name="answer_target_positive"),
        CheckConstraint(
            "sla_first_response_days > 0 AND sla_accept_days > 0 AND sla_resolve_days > 0",
            name="sla_positive",
        ),
        CheckConstraint("retention_action IN ('delete', 'anonymise')", name="retention_action"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name_sv: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    name_ar: Mapped[str | None] = mapped_column(String(200))
    description_sv: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    # Catalogue group (e.g. "skola", "bygga") for the citizen form's grouped list.
    group: Mapped[str] = mapped_column(String(40), default="ovrigt")
    keywords: Mapped[str] = mapped_column(Text, default="")
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_personnummer: Mapped[bool] = mapped_column(Boolean, default=False)
    # Walk-in topics (help printing documents, …) are services too, but not offered on the web form.
    walk_in_topic: Mapped[bool] = mapped_column(Boolean, default=False)
    open311: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whether anyone may read its requests' text and place through Open311 (a broken street
    # lamp: yes; a noise complaint about a neighbour: no). Off unless a service is set so.
    public_requests: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    answer_target_seconds: Mapped[int] = mapped_column(default=60)
    # SLA targets in working days (the calendar decides what a working day is).
    sla_first_response_days: Mapped[int] = mapped_column(default=1)
    sla_accept_days: Mapped[int] = mapped_column(default=1)
    sla_resolve_days: Mapped[int] = mapped_column(default=10)
    # Gallring (privacy/gallring.py): how long after closure a ticket keeps its personal
    # data (ISO 8601 duration), and whether it is then anonymised or deleted.
    retention_period: Mapped[str] = mapped_column(String(20), default="P1Y", server_default="P1Y")
    retention_action: Mapped[str] = mapped_column(String(10), default="anonymise", server_default="anonymise")

    department: Mapped[Department] = relationship(back_populates="services")
    reasons: Mapped[list[ContactReason]] = relationship(
        back_populates="service", order_by="ContactReason.id", cascade="all, delete-orphan"
    )
    # The heading `group` names (None for a group the directory does not describe).
    group_heading: Mapped[ServiceGroup | None] = relationship(
        primaryjoin="foreign(Service.group) == ServiceGroup.code", viewonly=True, lazy="selectin"
    )

    def name(self, locale: str = "sv") -> str:
        return localised(locale, self.name_sv, self.name_en, self.name_ar)

    def description(self, locale: str = "sv") -> str:
        return self.description_en if locale in ("en", "ar") else self.description_sv


class ContactReason(Base):
    """Why a citizen contacted a service (an orsakskod), kept by the department's coordinator."""

    __tablename__ = "contact_reasons"
    __table_args__ = (
        CheckConstraint(_in("category", REASON_CATEGORIES), name="category"),
        UniqueConstraint("service_id", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(60))
    name_sv: Mapped[str] = mapped_column(String(200))
    # The English label (agents working in English); empty: the Swedish one is shown.
    name_en: Mapped[str] = mapped_column(String(200), default="", server_default="")
    category: Mapped[str] = mapped_column(String(10))
    # A retired reason cannot be picked any more but stays on the contacts that have it.
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    service: Mapped[Service] = relationship(back_populates="reasons")

    def name(self, locale: str = "sv") -> str:
        return self.name_en if locale != "sv" and self.name_en else self.name_sv

    @property
    def is_other(self) -> bool:
        """One of the two "other" reasons every list keeps (never retired)."""
        return self.code in OTHER_REASONS


class ContactReasonChange(Base):
    """Who changed a service's reason list, when and what (added, renamed, retired, restored)."""

    __tablename__ = "contact_reason_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    reason_id: Mapped[int] = mapped_column(ForeignKey("contact_reasons.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(20))
    # What changed, before → after (e.g. {"name_sv": ["Gammal", "Ny"]}).
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    reason: Mapped[ContactReason] = relationship()
    user: Mapped[User | None] = relationship()


class ServiceGroup(Base):
    """A heading of the citizen form's grouped service list (`Service.group` names it)."""

    __tablename__ = "service_groups"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_sv: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    name_ar: Mapped[str | None] = mapped_column(String(200))
    # The order of the headings on the form (the directory file's order).
    position: Mapped[int] = mapped_column(default=0)

    def name(self, locale: str = "sv") -> str:
        return localised(locale, self.name_sv, self.name_en, self.name_ar)


class OpeningHours(Base):
    """A queue's or service's opening hours from the directory file ("default": all others).

    The calendar (worktime/calendar.py) reads these once per process; a `[opening_hours]`
    table in the configuration file overrides them code by code.
    """

    __tablename__ = "opening_hours"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    open: Mapped[str | None] = mapped_column(String(5))
    close: Mapped[str | None] = mapped_column(String(5))
    eve_open: Mapped[str | None] = mapped_column(String(5))
    eve_close: Mapped[str | None] = mapped_column(String(5))
    closed: Mapped[bool] = mapped_column(Boolean, default=False)

    def as_config(self) -> dict[str, object]:
        """The calendar's form: {"open": "08:00", …} or {"closed": True}."""
        if self.closed:
            return {"closed": True}
        keys = ("open", "close", "eve_open", "eve_close")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


class Queue(Base):
    __tablename__ = "queues"
    __table_args__ = (CheckConstraint(_in("kind", QUEUE_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name_sv: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    department: Mapped[Department] = relationship(back_populates="queues")

    def name(self, locale: str = "sv") -> str:
        return self.name_en if locale == "en" else self.name_sv


class Location(Base):
    __tablename__ = "locations"
    __table_args__ = (CheckConstraint(_in("kind", LOCATION_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    district: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    # Hand out numbered queue tickets ("kölappar") to walk-in visitors.
    queue_numbers: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class UserLanguage(Base):
    """A language an agent can serve citizens in (a routing skill)."""

    __tablename__ = "user_languages"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)


user_services = Table(
    "user_services",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
)

user_queues = Table(
    "user_queues",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("queue_id", ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(_in("presence", PRESENCE), name="presence"),
        CheckConstraint("max_open_tickets >= 0", name="capacity"),
        # One account per identity at the identity provider (single sign-on).
        UniqueConstraint("oidc_issuer", "oidc_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    presence: Mapped[str] = mapped_column(String(20), default="offline")
    presence_since: Mapped[datetime] = mapped_column(default=utcnow)
    # Longest idle wins a tie between equally loaded agents.
    last_assigned_at: Mapped[datetime | None] = mapped_column()
    max_open_tickets: Mapped[int] = mapped_column(default=5)
    # Where Twilio connects the agent's calls: a phone number or "client:identity".
    phone_identity: Mapped[str] = mapped_column(String(100), default="")
    ui_language: Mapped[str] = mapped_column(String(8), default="sv")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The identity at the OpenID Connect provider this account signs in as (auth/sso.py);
    # both empty for a local account.
    oidc_issuer: Mapped[str | None] = mapped_column(String(300))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    # Made by `kontaktcenter demo`: the demo refuses a database holding any other user.
    demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    department: Mapped[Department | None] = relationship()
    location: Mapped[Location | None] = relationship()
    services: Mapped[list[Service]] = relationship(secondary=user_services)
    queues: Mapped[list[Queue]] = relationship(secondary=user_queues)
    language_skills: Mapped[list[UserLanguage]] = relationship(cascade="all, delete-orphan")
    languages: AssociationProxy[list[str]] = association_proxy(
        "language_skills", "language", creator=lambda code: UserLanguage(language=code)
    )

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive users
        return self.active
