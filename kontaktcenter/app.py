"""The application factory."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Request, g, jsonify, redirect, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy import text

from . import errors_http, headers, input_guard, log_masking
from .commands import register_commands
from .config import instance_secret, load_config
from .database import ENGINE_KEY, db
from .extensions import RTL_LOCALES, babel, csrf, current_locale, limiter, login_manager
from .metrics import dirty, sqlfuncs
from .templating import init_templating

log = logging.getLogger(__name__)

# The generated session signing key, in the instance folder, when SECRET_KEY is not set.
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name


class SessionInterface(SecureCookieSessionInterface):
    """The signed cookie session, but none for the JSON API: its clients authenticate with
    tokens, and opening and saving a session cost each call more than counting its limit."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/api/"):
            return None  # Flask gives the request a null session: nothing read, nothing written
        return super().open_session(app, request)


def create_app(test_config: Mapping[str, Any] | None = None, *, instance_path: str | None = None) -> Flask:
    # Before anything logs: no personnummer, e-mail address or phone number in a log line.
    log_masking.install()
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.session_interface = SessionInterface()
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(load_config(overrides=test_config))
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'kontaktcenter.sqlite3'}"
    if not app.config["SECRET_KEY"]:
        # Never a key written anywhere public: one made for this installation (production
        # refuses to start without its own, see config.py).
        app.config["SECRET_KEY"] = instance_secret(Path(app.instance_path), SECRET_KEY_FILE)
    production = app.config["ENV"] == "production"
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=production,
        WTF_CSRF_TIME_LIMIT=None if not production else 8 * 3600,
        BABEL_DEFAULT_LOCALE="sv",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        RATELIMIT_STORAGE_URI=app.config["REDIS_URL"] or "memory://",
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    if not Path(app.config["RULES_DIR"]).is_absolute():
        from .config import PROJECT_ROOT

        app.config["RULES_DIR"] = str(PROJECT_ROOT / app.config["RULES_DIR"])

    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    db.init_app(app)
    sqlfuncs.register(app.extensions[ENGINE_KEY])  # the reports' SQL functions, on SQLite
    dirty.register()  # every write to a past day marks it for the rollups (never stale)
    from .live.install import init_app as init_live

    init_live(app)  # change notices after each commit, for the live pages
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=current_locale)
    limiter.init_app(app)

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        db.session.remove()

    @app.context_processor
    def _layout() -> dict[str, Any]:
        locale = current_locale()
        return {"locale": locale, "text_direction": "rtl" if locale in RTL_LOCALES else "ltr"}

    headers.init_app(app)
    input_guard.init_app(app)
    errors_http.init_app(app)

    @app.before_request
    def _reset_locale() -> None:
        g.pop("locale", None)

    _register_blueprints(app)
    init_templating(app)
    from .directory.service import opening_hours_in_directory
    from .worktime.calendar import HOURS_SOURCE_KEY

    app.extensions[HOURS_SOURCE_KEY] = opening_hours_in_directory
    from .scheduling.runner import init_app as init_scheduler

    init_scheduler(app)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz():
        try:
            db.session.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - readiness reports any database failure
            log.warning("readiness check failed: %s", exc)
            return jsonify(status="unavailable", database=str(exc.__class__.__name__)), 503
        return jsonify(status="ok", database="ok")

    @app.get("/")
    def index():
        from flask_login import current_user

        from .auth.views import home_url

        return redirect(home_url(current_user) if current_user.is_authenticated else url_for("auth.login"))

    register_commands(app)
    return app


# Each part of the domain adds its blueprint module here (a module with `bp`).
BLUEPRINTS = [
    "kontaktcenter.auth.views",
    "kontaktcenter.accounts.views",
    "kontaktcenter.auth.sso_views",
    "kontaktcenter.auth.two_factor_views",
    "kontaktcenter.channels.web.views",
    "kontaktcenter.channels.api.views",
    "kontaktcenter.channels.tokens.views",
    "kontaktcenter.channels.open311.views",
    "kontaktcenter.channels.email.views",
    "kontaktcenter.channels.walkin.views",
    "kontaktcenter.channels.voice.views",
    "kontaktcenter.channels.sms.views",
    "kontaktcenter.channels.voice.phone_views",
    "kontaktcenter.casework.views",
    "kontaktcenter.intake.views",
    "kontaktcenter.metrics.views",
    "kontaktcenter.metrics.reasons_views",
    "kontaktcenter.routing.views",
    "kontaktcenter.privacy.views",
    "kontaktcenter.live.views",
    "kontaktcenter.switchboard.views",
    "kontaktcenter.channels.voice.switchboard_views",
]


def _register_blueprints(app: Flask) -> None:
    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(name).bp)
