"""The rate limit the JSON API and Open311 share (RATELIMIT_API): one count per client, token or address."""

from __future__ import annotations

import math
import time
from functools import cache

from flask import current_app, request
from limits import RateLimitItem, parse_many

from ..extensions import limiter
from .tokens.service import bearer_token, hash_token


def _rate_key() -> str:
    # Per client: the token when there is one, so clients behind one proxy do not share a limit.
    token = bearer_token(request.headers.get("Authorization", ""))
    return "token:" + hash_token(token) if token else "ip:" + (request.remote_addr or "")


def over_limit() -> int | None:
    """Count this request against its client's limit for the API and Open311 (RATELIMIT_API);
    the seconds until the client may try again when it is over the limit, else None.

    Counted by Flask-Limiter's own strategy in its own storage (shared through Redis when
    REDIS_URL is set), but without its per-request machinery around a view, which costs
    each call as much CPU as storing and acknowledging a contact.
    """
    if not limiter.enabled:
        return None
    client = (current_app.config.get("RATELIMIT_KEY_PREFIX", ""), "api", _rate_key())
    for limit in _limits(current_app.config.get("RATELIMIT_API", "600 per minute")):
        if not limiter.limiter.hit(limit, *client):
            return max(1, math.ceil(limiter.limiter.get_window_stats(limit, *client).reset_time - time.time()))
    return None


@cache
def _limits(text: str) -> list[RateLimitItem]:
    return parse_many(text)


@limiter.request_filter
def _counted_by_over_limit() -> bool:
    # Flask-Limiter's own pass before every request finds no limit of theirs to count.
    return request.blueprint in ("api", "open311")
