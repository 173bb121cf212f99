"""API tokens: issuing, checking and revoking them; only a token's hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Row, bindparam, or_, select, update
from sqlalchemy.orm import Session

from ...database import utcnow
from ...directory.models import User
from ...errors import DomainError
from .models import SCOPES, ApiToken

TOKEN_PREFIX = "kc_"  # noqa: S105 - a prefix that marks our tokens, not a secret
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(DomainError, PermissionError):
    """A token that is missing, unknown, revoked or lacks the scope. `status` is 401 or 403."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None."""
    scheme, _sep, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(session: Session, name: str, scope: str, created_by: User | None = None) -> tuple[ApiToken, str]:
    """A new token; the raw value is returned once and only its hash is stored."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; choose one of {', '.join(SCOPES)}")
    name = name.strip()
    if not name:
        raise ValueError("a token needs a name saying who uses it")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name[:120], scope=scope, token_hash=hash_token(raw), created_by_id=created_by.id if created_by else None
    )
    session.add(token)
    session.flush()
    return token, raw


# What a request needs of its token: read as a row, not an ORM object, on every API call.
TOKEN_USE = (ApiToken.id, ApiToken.token_hash, ApiToken.scope, ApiToken.revoked_at)
# Token hash → when this process last noted the token's use (see record_use).
_noted: dict[str, datetime] = {}


@cache
def _token_use():
    # Built once: every API call runs it.
    return select(*TOKEN_USE).where(ApiToken.token_hash == bindparam("digest"))


def check_token(session: Session, raw: str | None, scope: str) -> Row:
    """The active token for `raw` (TOKEN_USE) if it carries `scope`; raises TokenError otherwise."""
    if not raw:
        raise TokenError(401, "an API token is required")
    digest = hash_token(raw)
    token = session.execute(_token_use(), {"digest": digest}).first()
    # The lookup is by hash, so timing reveals nothing about the raw value; compare anyway.
    if token is None or not hmac.compare_digest(token.token_hash, digest) or token.revoked_at is not None:
        raise TokenError(401, "the API token is unknown or revoked")
    if token.scope != scope:
        raise TokenError(403, f"this token has the scope {token.scope!r}; this call needs {scope!r}")
    return token


def record_use(session: Session, token_hash: str) -> None:
    """Note the token's last use (to the minute), in its own short transaction.

    Called after the request's work is committed: an update of the token row inside
    that work would hold the row lock for the whole request and make every concurrent
    call with the same token wait in line. Each process remembers when it last noted a
    token, so within the minute a call neither reads nor writes the row; the update's
    condition keeps the row right when several processes note the same token.
    """
    now = utcnow()
    noted = _noted.get(token_hash)
    if noted is not None and noted >= now - LAST_USED_RESOLUTION:
        return
    session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == token_hash)
        .where(or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_RESOLUTION))
        .values(last_used_at=now)
    )
    session.commit()
    _noted[token_hash] = now


def revoke_token(session: Session, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
