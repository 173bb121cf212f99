"""Live pages: the event stream, the wallboard and the screen pop (thin handlers)."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context
from flask import session as cookie_session
from flask_login import current_user

from ..auth import sessions
from ..auth.decorators import roles_required
from ..auth.views import SESSION_KEY
from ..channels.clock import now
from ..channels.voice.phone_views import PHONE_ROLES
from ..database import db
from ..errors_http import answer_under
from ..metrics.engine import short_abandon_setting
from . import access, stream, wallboard
from .feed import feed_of
from .screen_pop import screen_pop

bp = Blueprint("live", __name__)
# How long a stream waits for its process's listener to connect (only the first one does).
LISTENER_WAIT = 5.0

# A refused stream answers in plain text with its status: an EventSource cannot show a page.
answer_under("/live/stream", lambda e: Response(str(e), status=e.status, mimetype="text/plain"), locale="sv")


def _stream_sign_in(view):
    """A stream without a signed-in user is refused (401), not sent to the sign-in page:
    the browser's EventSource then stops instead of reading a login form as events."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return Response("Logga in för att följa ändringarna.\n", status=401, mimetype="text/plain")
        return view(*args, **kwargs)

    return wrapped


def _one_request_at_a_time(environ) -> bool:
    """A gunicorn worker that serves one request at a time (config/gunicorn.conf.py's sync
    workers): a stream there would hold the worker for minutes. The streams have their own
    threaded processes (config/gunicorn-live.conf.py), to which the proxy sends this path."""
    return "gunicorn.socket" in environ and not environ.get("wsgi.multithread")


def _still_signed_in(user_id: int):
    """Asks the database whether this request's session still lives (the stream asks at each heartbeat)."""
    token = cookie_session.get(SESSION_KEY, "")
    limits = sessions.Limits.from_config(current_app.config)

    def check() -> bool:
        try:
            return sessions.still_signed_in(db.session, token, user_id, sessions.now(), limits)
        finally:
            # The connection goes back to the pool between checks: the stream idles on.
            db.session.remove()

    return check


@bp.get("/live/stream")
@_stream_sign_in
@roles_required(*access.LIVE_ROLES)
def live_stream():
    if _one_request_at_a_time(request.environ):
        return Response(stream.UNAVAILABLE, mimetype="text/event-stream")
    topics = access.parse_topics(request.args.get("topics", "")[:2000])
    listener = access.listener_for(db.session, current_user, topics)
    settings = current_app.config["live"]
    feed = feed_of(current_app)
    # The first stream of a process starts its listener; a server away for longer is
    # told to the browser as a reset once the listener is back.
    feed.ready(timeout=LISTENER_WAIT)
    sub = feed.hub.subscribe(listener.topics)
    # Give the connection back now: an open stream may idle for minutes, and each one
    # holding a database connection would empty the pool. The listener is plain values.
    db.session.commit()
    db.session.remove()
    body = stream.events(
        feed.hub,
        sub,
        listener,
        last_event_id=request.headers.get("Last-Event-ID", "")[:100],
        heartbeat=settings["heartbeat_seconds"],
        lifetime=settings["stream_lifetime_seconds"],
        signed_in=_still_signed_in(current_user.id),
    )
    response = Response(stream_with_context(body), mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


@bp.get("/wallboard")
@roles_required(*access.WALLBOARD_ROLES)
def wallboard_page():
    queues = access.visible_queues(db.session, current_user)
    at = now()
    rows = wallboard.figures(
        db.session,
        queues,
        at,
        max_callback_attempts=current_app.config["CALLBACK_MAX_ATTEMPTS"],
        short_abandon_seconds=short_abandon_setting(),
        service_level_target=current_app.config["report_targets"]["service_level"],
    )
    kiosk = request.args.get("kiosk") == "1"
    return render_template(
        "live/wallboard.html",
        rows=rows,
        at=at,
        kiosk=kiosk,
        topics=",".join(["presence", *(f"queue:{q.id}" for q in queues)]),
        clock=wallboard.minutes_seconds,
        min_refresh=current_app.config["live"]["wallboard_min_refresh_seconds"],
    )


@bp.get("/phone/samtal")
@roles_required(*PHONE_ROLES)
def screen_pop_page():
    pop = screen_pop(db.session, current_user, now())
    db.session.commit()  # the access log's rows for what the pop shows
    return render_template("live/screen_pop.html", pop=pop, clock=wallboard.minutes_seconds)
