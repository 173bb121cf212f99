"""Single sign-on with OpenID Connect: the settings, the group → role map, and what a
verified sign-in does to the local account.

The protocol itself (authorization code flow with PKCE, state and nonce; the ID token's
signature against the provider's JWKS, issuer, audience, expiry and nonce) is Authlib's
Flask client; this module decides who the verified claims are here.

An account is linked to one identity at the provider by (issuer, subject), never by
username: a local account with the same username is not taken over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..directory.models import Department, User
from ..errors import DomainError
from ..vocabulary import ROLES
from . import audit
from .models import AuthEvent
from .service import deactivate, find_user

# Authlib keeps one client per app; a changed configuration (tests) makes a new one.
EXTENSION_KEY = "kontaktcenter.sso"
CLIENT_NAME = "sso"
# The provider's answers are waited for this long (discovery, token, JWKS, userinfo).
HTTP_TIMEOUT_SECONDS = 10
# No password hash matches this: an account made by single sign-on has no local password.
NO_PASSWORD = "!sso"  # noqa: S105 - a marker, not a password
# AuthEvent.detail of a deactivation by single sign-on (a sign-in with a mapped group
# again reactivates only those, never an account an administrator deactivated).
SSO_DEACTIVATION = "sso: no mapped group"
# Plain http to the provider is allowed only to this machine (a test or development provider).
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class SSOConfigError(ValueError):
    """OIDC_* / PASSWORD_LOGIN cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Grant:
    """What membership of one group at the identity provider gives here."""

    group: str
    role: str
    department: str | None = None


@dataclass(frozen=True)
class Settings:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    groups_claim: str
    # In the configured order: the first group the user is in decides (see role_for).
    grants: tuple[Grant, ...]
    password_login: bool

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)

    @property
    def metadata_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        issuer = config["OIDC_ISSUER"].strip()
        settings = cls(
            issuer=issuer,
            client_id=config["OIDC_CLIENT_ID"].strip(),
            client_secret=config["OIDC_CLIENT_SECRET"],
            scopes=config["OIDC_SCOPES"],
            groups_claim=config["OIDC_GROUPS_CLAIM"],
            grants=parse_role_map(role_map_setting(config)),
            password_login=config["PASSWORD_LOGIN"],
        )
        if settings.enabled:
            parts = urlsplit(issuer)
            if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
                raise SSOConfigError(
                    f"OIDC_ISSUER={issuer!r}: expected an https:// URL (plain http only on this machine)"
                )
            if not settings.client_id:
                raise SSOConfigError(
                    "OIDC_ISSUER is set but OIDC_CLIENT_ID is not: set the client id registered at the provider"
                )
            if "openid" not in settings.scopes.split():
                raise SSOConfigError(f"OIDC_SCOPES={settings.scopes!r}: the scopes must include openid")
            if not settings.grants:
                raise SSOConfigError(
                    "OIDC_ISSUER is set but no group maps to a role: add [oidc.groups] (or OIDC_ROLE_MAP)"
                )
        elif not settings.password_login:
            raise SSOConfigError("PASSWORD_LOGIN is false but OIDC_ISSUER is not set: nobody could sign in on the web")
        return settings


def role_map_setting(config: Mapping[str, Any]) -> Any:
    """OIDC_ROLE_MAP (JSON, from the environment) wins over the [oidc.groups] table."""
    raw = config["OIDC_ROLE_MAP"]
    if isinstance(raw, str) and raw.strip():
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SSOConfigError(f"OIDC_ROLE_MAP is not valid JSON: {exc}") from None
    if isinstance(raw, Mapping):
        return raw
    return config["oidc"]["groups"]


def parse_role_map(raw: Any) -> tuple[Grant, ...]:
    """{"kc-agents": {"role": "agent", "department": "serviceforvaltningen"}, ...} in order."""
    if not isinstance(raw, Mapping):
        raise SSOConfigError(
            "[oidc.groups] / OIDC_ROLE_MAP: expected a table of group = {role = ..., department = ...}"
        )
    grants = []
    for group, entry in raw.items():
        if isinstance(entry, str):
            entry = {"role": entry}
        if not isinstance(entry, Mapping) or set(entry) - {"role", "department"}:
            raise SSOConfigError(f'[oidc.groups] {group!r}: expected {{role = "...", department = "..."}}')
        role = entry.get("role")
        if role not in ROLES:
            raise SSOConfigError(f"[oidc.groups] {group!r}: role {role!r} is not one of {', '.join(ROLES)}")
        department = entry.get("department") or None
        if department is not None and not isinstance(department, str):
            raise SSOConfigError(f"[oidc.groups] {group!r}: department must be a department code")
        grants.append(Grant(group=str(group), role=role, department=department))
    return tuple(grants)


def id_token_claims_options(settings: Settings, issuer: str) -> dict[str, dict[str, Any]]:
    """What the ID token must say besides its signature, expiry and nonce: from our
    provider (`issuer` as its discovery document spells it), for this application."""
    return {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": settings.client_id},
        "sub": {"essential": True},
    }


def groups_of(claims: Mapping[str, Any], claim: str) -> set[str]:
    value = claims.get(claim)
    if isinstance(value, str):
        return {value}
    if isinstance(value, list | tuple):
        return {str(v) for v in value}
    return set()


def role_for(settings: Settings, groups: set[str]) -> Grant | None:
    """The first configured group the user is in; None when no group of theirs maps."""
    return next((grant for grant in settings.grants if grant.group in groups), None)


def is_sso_linked(user: User) -> bool:
    return bool(user.oidc_subject)


def needs_local_second_factor(user: User) -> bool:
    """Whether a signed-in user may be asked for the local second step (TOTP).

    The one place this is decided. Users linked to the identity provider never are: the
    provider's own multi-factor sign-in covers them. For the others the local two-factor
    policy (`two_factor.required`: role, configuration) decides.
    """
    return not is_sso_linked(user)


class Refused(DomainError):
    """A verified identity that gets no access here; `message` is shown, `detail` logged."""

    status = 403

    def __init__(self, message: str, detail: str, user: User | None = None) -> None:
        super().__init__(message)
        self.detail = detail
        self.user = user

    def __str__(self) -> str:  # what a log line says: the detail, not the user's message
        return self.detail


@dataclass(frozen=True)
class Messages:
    """The user-facing texts, translated by the caller (the domain stays free of the request's locale)."""

    no_access: str
    taken: str
    no_username: str
    unknown_department: str
    deactivated: str


def _username(claims: Mapping[str, Any]) -> str:
    for key in ("preferred_username", "email", "upn"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()[:80]
    return ""


def _last_deactivation(session: Session, user: User) -> AuthEvent | None:
    return session.scalar(
        select(AuthEvent)
        .where(AuthEvent.user_id == user.id, AuthEvent.kind == "deactivated")
        .order_by(AuthEvent.at.desc(), AuthEvent.id.desc())
        .limit(1)
    )


def account_for(
    session: Session,
    settings: Settings,
    claims: Mapping[str, Any],
    at: datetime,
    client: audit.Client,
    messages: Messages,
) -> User:
    """The local account for a verified ID token's claims: found by (issuer, subject),
    made on first sign-in, brought up to date with the provider (name, e-mail, role and
    department from the groups) on every sign-in, deactivated with its sessions ended
    when no group of theirs maps any more.

    Raises Refused when the identity gets no access; every change is in auth_events.
    """
    issuer, subject = settings.issuer, str(claims["sub"])
    user = session.scalar(select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject))
    grant = role_for(settings, groups_of(claims, settings.groups_claim))
    if grant is None:
        if user is not None and user.active:
            # Marked as ours, so that a later sign-in with a mapped group may undo it.
            deactivate(session, user, at, client, why=SSO_DEACTIVATION)
        raise Refused(messages.no_access, "no mapped group", user)
    department = None
    if grant.department:
        department = session.scalar(select(Department).where(Department.code == grant.department))
        if department is None:
            raise Refused(
                messages.unknown_department, f"group {grant.group}: unknown department {grant.department}", user
            )
    name = str(claims.get("name") or "").strip()[:200]
    email = str(claims.get("email") or "").strip()[:200]
    if user is None:
        username = _username(claims)
        if not username:
            raise Refused(messages.no_username, "no preferred_username or email claim")
        if find_user(session, username) is not None:
            # Never take over an account by its username: a local one, or another identity's.
            raise Refused(messages.taken, f"username {username} belongs to another account")
        user = User(
            username=username,
            name=name or username,
            email=email,
            password_hash=NO_PASSWORD,
            role=grant.role,
            department_id=department.id if department else None,
            oidc_issuer=issuer,
            oidc_subject=subject,
            active=True,
        )
        try:
            with session.begin_nested():
                session.add(user)
        except IntegrityError:
            # The same person signing in in two browsers at once: the other made the account.
            if session.scalar(select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject)) is None:
                raise Refused(messages.taken, f"username {username} taken meanwhile") from None
            return account_for(session, settings, claims, at, client, messages)
        audit.record(
            session,
            "sso_account",
            at,
            client=client,
            user_id=user.id,
            username=user.username,
            detail=f"created: role {grant.role}, department {grant.department or '-'} (group {grant.group})",
        )
        return user
    if not user.active:
        last = _last_deactivation(session, user)
        if last is None or not last.detail.startswith(SSO_DEACTIVATION):
            raise Refused(messages.deactivated, "account deactivated here", user)
        user.active = True
        audit.record(
            session,
            "sso_account",
            at,
            client=client,
            user_id=user.id,
            username=user.username,
            detail=f"reactivated (group {grant.group})",
        )
    changes = []
    new_department_id = department.id if department else None
    if user.role != grant.role:
        changes.append(f"role {user.role} → {grant.role}")
        user.role = grant.role
    if user.department_id != new_department_id:
        changes.append(f"department → {grant.department or '-'}")
        user.department_id = new_department_id
    if name and user.name != name:
        changes.append("name")
        user.name = name
    if email and user.email != email:
        changes.append("email")
        user.email = email
    if changes:
        audit.record(
            session,
            "sso_account",
            at,
            client=client,
            user_id=user.id,
            username=user.username,
            detail=f"updated: {', '.join(changes)} (group {grant.group})",
        )
    return user


def oauth_client(app: Any) -> Any:
    """Authlib's Flask client for the configured provider (authorization code + PKCE,
    state and nonce kept in the signed session cookie until the callback)."""
    from authlib.integrations.flask_client import OAuth

    settings = Settings.from_config(app.config)
    cached = app.extensions.get(EXTENSION_KEY)
    if cached is not None and cached[0] == settings:
        return cached[1]
    oauth = OAuth(app)
    client = oauth.register(
        CLIENT_NAME,
        client_id=settings.client_id,
        client_secret=settings.client_secret or None,
        server_metadata_url=settings.metadata_url,
        client_kwargs={
            "scope": settings.scopes,
            "code_challenge_method": "S256",
            "default_timeout": HTTP_TIMEOUT_SECONDS,
        },
    )
    app.extensions[EXTENSION_KEY] = (settings, client)
    return client
