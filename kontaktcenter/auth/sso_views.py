"""Single sign-on pages: off to the identity provider, and back with a verified ID token."""

from __future__ import annotations

import logging

from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import gettext as _
from joserfc.errors import JoseError
from requests import RequestException

from ..database import db
from . import audit, sessions, sso
from .decorators import public
from .views import _client, _safe_next, landing_url, start_session

bp = Blueprint("sso", __name__)
log = logging.getLogger(__name__)

# Where to go after signing in, kept in the session cookie during the round trip.
NEXT_KEY = "sso_next"


def _settings() -> sso.Settings:
    settings = sso.Settings.from_config(current_app.config)
    if not settings.enabled:
        abort(404)
    return settings


def _refused(title: str, message: str, status: int, detail: str, username: str = "", user_id: int | None = None):
    # Logged with why; the page says what the user can do.
    audit.record(
        db.session, "sso_refused", sessions.now(), client=_client(), user_id=user_id, username=username, detail=detail
    )
    db.session.commit()
    return render_template("auth/sso_refused.html", title=title, message=message), status


def _messages() -> sso.Messages:
    return sso.Messages(
        no_access=_(
            "Ditt konto i Malmö stad ger ingen behörighet till Kontaktcenter. Kontakta din chef om du behöver åtkomst."
        ),
        taken=_(
            "Det finns redan ett konto här med ditt användarnamn, som inte är kopplat till ditt konto i Malmö stad. "
            "Be en administratör om hjälp. Du har inte loggats in."
        ),
        no_username=_("Inloggningstjänsten skickade varken användarnamn eller e-postadress. Du har inte loggats in."),
        unknown_department=_(
            "Din grupp i Malmö stad är kopplad till en förvaltning som inte finns här. "
            "Be en administratör rätta inställningarna. Du har inte loggats in."
        ),
        deactivated=_("Ditt konto här är avstängt av en administratör. Du har inte loggats in."),
    )


@bp.get("/login/sso")
@public
def start():
    settings = _settings()
    cookie_session[NEXT_KEY] = _safe_next(request.args.get("next")) or ""
    try:
        return sso.oauth_client(current_app).authorize_redirect(url_for(".callback", _external=True))
    except (RequestException, ValueError) as exc:
        log.warning("single sign-on: the provider at %s cannot be reached: %s", settings.issuer, exc)
        return _refused(
            _("Inloggningstjänsten svarar inte"), _("Försök igen om en stund."), 503, f"discovery: {exc}"[:200]
        )


@bp.get("/login/sso/callback")
@public
def callback():
    settings = _settings()
    client = sso.oauth_client(current_app)
    failed = _("Inloggningen misslyckades")
    try:
        issuer = client.load_server_metadata().get("issuer", "")
        if issuer.rstrip("/") != settings.issuer.rstrip("/"):
            raise ValueError(f"discovery names issuer {issuer!r}, not {settings.issuer!r}")
        # Authlib checks the state (one use), swaps the code with the PKCE verifier, and
        # verifies the ID token: signature (the provider's JWKS), expiry, nonce, and the
        # claims asked for here. The audience must be asked for: by default Authlib accepts
        # a token issued to another application when its azp names ours.
        token = client.authorize_access_token(claims_options=sso.id_token_claims_options(settings, issuer))
        claims = dict(token.get("userinfo") or {})
        if not claims.get("sub"):
            raise ValueError("no ID token in the provider's answer")
        if settings.groups_claim not in claims:
            # Some providers give the groups only at the userinfo endpoint.
            extra = client.userinfo(token=token)
            if extra.get("sub") == claims["sub"]:
                claims.setdefault(settings.groups_claim, extra.get(settings.groups_claim))
    except MismatchingStateError:
        return _refused(
            failed,
            _("Inloggningen har redan använts eller gått ut. Börja om från inloggningssidan."),
            400,
            "state missing, used or from another browser",
        )
    except OAuthError as exc:
        return _refused(
            failed,
            _("Inloggningstjänsten nekade inloggningen. Du har inte loggats in."),
            400,
            f"provider: {exc.error or ''} {exc.description or ''}".strip()[:200],
        )
    except JoseError as exc:
        # A forged, expired, foreign or replayed ID token: nothing about it is trusted.
        return _refused(
            failed,
            _("Inloggningen kunde inte verifieras. Du har inte loggats in."),
            400,
            f"id token refused: {exc.__class__.__name__}: {exc}"[:200],
        )
    except (RequestException, ValueError) as exc:
        log.warning("single sign-on: callback failed: %s", exc)
        return _refused(
            failed,
            _("Inloggningen kunde inte verifieras. Du har inte loggats in."),
            400,
            f"{exc.__class__.__name__}: {exc}"[:200],
        )
    at, who = sessions.now(), _client()
    try:
        user = sso.account_for(db.session, settings, claims, at, who, _messages())
    except sso.Refused as refusal:
        db.session.commit()  # a deactivation stands, with its ended sessions
        username = refusal.user.username if refusal.user else str(claims.get("preferred_username") or "")[:80]
        return _refused(
            _("Ingen åtkomst"),
            refusal.message,
            403,
            refusal.detail,
            username=username,
            user_id=refusal.user.id if refusal.user else None,
        )
    start_session(user, at, who, detail="single sign-on")
    return redirect(landing_url(user, cookie_session.pop(NEXT_KEY, "")))
