"""How the web answers a refusal: a DomainError in the requester's own format, and the
application-wide error pages (403, 404, 429, a form without its CSRF token).

A DomainError that leaves a view is answered here, after the request's transaction is
rolled back (nothing half-done is written). Machine clients get their own format: each
channel registers an answer for its path prefix (answer_under), as the JSON API does with
problem+json. Everything else is a page: the message is flashed and the user goes back to
the page the form came from (the view names it with back_on_error, else the browser's
same-origin Referer), or, with nowhere to go back to, sees the message on the error page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, Response, flash, g, redirect, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from .database import db
from .errors import DomainError


@dataclass(frozen=True)
class Surface:
    answer: Callable[[DomainError], Response]
    locale: str  # the language its messages are read in


# Machine clients' formats by path prefix; the channels register their own, so this module needs none of them.
SURFACES: dict[str, Surface] = {}


def answer_under(prefix: str, answer: Callable[[DomainError], Response], *, locale: str = "en") -> None:
    """`answer(error)` answers a DomainError under `prefix`, with its message in `locale`
    (machine clients read English, whatever ?lang= says)."""
    SURFACES[prefix] = Surface(answer, locale)


def back_on_error(url: str, code: int = 302) -> None:
    """Where a page's action sends the user back to when the domain refuses it."""
    g.error_back = (url, code)


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, domain_error)
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(403, forbidden)
    app.register_error_handler(404, not_found)
    app.register_error_handler(429, too_many)


def domain_error(error: DomainError):
    db.session.rollback()
    surface = next((s for prefix, s in SURFACES.items() if request.path.startswith(prefix)), None)
    if surface is not None:
        with force_locale(surface.locale):
            return surface.answer(error)
    return _page_answer(error)


def _page_answer(error: DomainError):
    back, code = g.get("error_back") or (_same_origin_referrer(), 302)
    if back is None:
        return error_page(error.status, _("Det gick inte att göra"), str(error))
    for message in error.messages():
        flash(message, "error")
    return redirect(back, code)


def _same_origin_referrer() -> str | None:
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    return referrer if parts.netloc == request.host and parts.scheme in ("http", "https") else None


# -- the application's error pages ---------------------------------------------------


def error_page(code: int, title: str, message: str, start_url: str | None = None):
    """The application's one error page: what went wrong and what to do, with its status.

    `start_url`: the signed-in user's own start page, offered as the way on.
    """
    return render_template("error.html", code=code, title=title, message=message, start_url=start_url), code


def csrf_error(_err: CSRFError):
    return error_page(
        400,
        _("Formuläret kunde inte skickas"),
        _("Säkerhetstoken saknas eller har gått ut. Ladda om sidan och försök igen. Inget har sparats."),
    )


def forbidden(_err):
    from flask_login import current_user

    from .auth.views import home_url  # the auth package imports this module

    start = home_url(current_user) if current_user.is_authenticated else None
    return error_page(
        403,
        _("Åtkomst nekad"),
        _(
            "Sidan finns, men du har inte behörighet till den med ditt konto. "
            "Behöver du den i ditt arbete, be din chef eller en administratör om behörighet."
        )
        if start
        else _("Din roll har inte behörighet till den här sidan."),
        start_url=start,
    )


def not_found(_err):
    return error_page(404, _("Sidan finns inte"), _("Kontrollera adressen."))


def too_many(_err):
    return error_page(
        429, _("För många försök"), _("Du har skickat för många förfrågningar. Vänta en stund och försök igen.")
    )
