"""Tables of the channels: API tokens for systems calling the JSON API and Open311."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base, utcnow
from ..directory.models import _in

SCOPES = ("contacts:write", "tickets:read", "services:read", "open311")


class ApiToken(Base):
    """A Bearer token (or Open311 api_key); only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(_in("scope", SCOPES), name="scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(30))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class Open311Details(Base):
    """What an Open311 request carries beyond a contact: where, and the service's attributes."""

    __tablename__ = "open311_details"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), unique=True)
    lat: Mapped[float | None] = mapped_column(Float)
    long: Mapped[float | None] = mapped_column(Float)
    address_string: Mapped[str] = mapped_column(String(300), default="")
    address_id: Mapped[str] = mapped_column(String(100), default="")
    zipcode: Mapped[str] = mapped_column(String(20), default="")
    device_id: Mapped[str] = mapped_column(String(100), default="")
    account_id: Mapped[str] = mapped_column(String(100), default="")
    media_url: Mapped[str] = mapped_column(String(500), default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The client (API token) that sent the request.
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
