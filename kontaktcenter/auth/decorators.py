"""The role decorator every staff route wears."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from ..database import db
from ..extensions import login_manager
from ..vocabulary import ROLES
from . import two_factor


def roles_required(*roles: str, before_two_factor: bool = False) -> Callable:
    """Anonymous → the sign-in page; signed in without one of `roles` → 403.

    A user whose role requires two-factor sign-in and who has no authenticator yet reaches
    only the routes marked `before_two_factor` (enrolment, sign-out); every other staff route
    sends them to enrolment, here, before any view body runs.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s) {sorted(unknown)}")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                if request.blueprint in ("api", "open311") or request.is_json:
                    abort(401)
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            if not before_two_factor and two_factor.enrolment_due(db.session, current_user, current_app.config):
                if request.blueprint in ("api", "open311") or request.is_json or request.method != "GET":
                    abort(403)
                return redirect(url_for("two_factor.account", next=request.full_path.rstrip("?")))
            return view(*args, **kwargs)

        # Read by the role × route test, which proves every staff route wears this.
        wrapped.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapped

    return decorator


def public(view: Callable) -> Callable:
    """Marks a route as deliberately open to anyone (citizens, Twilio, health checks)."""
    view.public = True  # type: ignore[attr-defined]
    return view
