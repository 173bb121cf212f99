"""Set up live updates in the application factory: the feed, and the topics each page follows."""

from __future__ import annotations

from flask import Flask, g, request
from flask_login import current_user

from ..database import db
from . import access
from .feed import init_app as init_feed


def topics_for(page: str) -> str:
    """The topics a staff page follows (a template global): what its regions show."""
    user = current_user
    if not user.is_authenticated or user.role not in access.LIVE_ROLES:
        return ""
    topics = [f"user:{user.id}"]
    if page in ("console", "phone"):
        topics += [f"queue:{q.id}" for q in access.visible_queues(db.session, user)]
    if page == "inbox" and user.department_id and user.role in (*access.DEPARTMENT_ROLES, "manager"):
        topics.append(f"department:{user.department_id}")
    return ",".join(topics)


def _mark_passive() -> None:
    # Read by the session's idle clock (auth/views.py), which must not count these.
    g.passive_request = access.passive_request(request)


def init_app(app: Flask) -> None:
    init_feed(app)
    app.jinja_env.globals["live_topics_for"] = topics_for
    app.before_request(_mark_passive)
