"""Sign-in throttling per account and per client address.

Failed attempts are counted in Flask-Limiter's storage (Redis when REDIS_URL is set, so
every worker counts together) in moving windows: LOGIN_LIMIT_ACCOUNT for one username
from anywhere, LOGIN_LIMIT_CLIENT for one address whatever the username. Over any limit,
the attempt is refused before the password is checked, the right one too. Each setting
holds several limits ("10 per minute; 30 per hour; 100 per day"), so the lockout grows
with repeated failures: up to a minute, then up to an hour, then up to a day.

The check and the count are two steps: attempts running at the same moment may each pass
the check (at most one per web worker), which the longer windows still bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from functools import cache
from typing import Any

from limits import RateLimitItem, parse_many
from limits.strategies import MovingWindowRateLimiter

from ..extensions import limiter


@cache
def _limits(text: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(text))


def _strategy() -> MovingWindowRateLimiter | None:
    # RATELIMIT_ENABLED = false turns these off with every other limit (there is no storage then).
    if not limiter.enabled or not limiter.initialized:
        return None
    return MovingWindowRateLimiter(limiter.storage)


def _scopes(
    config: Mapping[str, Any], username: str, client_ip: str
) -> list[tuple[tuple[RateLimitItem, ...], tuple[str, ...]]]:
    prefix = config["RATELIMIT_KEY_PREFIX"]
    account = username.strip().lower()[:80]  # as authenticate() looks it up
    return [
        (_limits(config["LOGIN_LIMIT_ACCOUNT"]), (prefix, "login-account", account)),
        (_limits(config["LOGIN_LIMIT_CLIENT"]), (prefix, "login-client", client_ip)),
    ]


def seconds_refused(config: Mapping[str, Any], username: str, client_ip: str) -> int | None:
    """Seconds until this username may be tried from this address, or None if it may now."""
    strategy = _strategy()
    if strategy is None:
        return None
    waits = [
        strategy.get_window_stats(limit, *key).reset_time - time.time()
        for limits, key in _scopes(config, username, client_ip)
        for limit in limits
        if not strategy.test(limit, *key)
    ]
    return max(1, math.ceil(max(waits))) if waits else None


def count_failure(config: Mapping[str, Any], username: str, client_ip: str) -> None:
    strategy = _strategy()
    if strategy is None:
        return
    for limits, key in _scopes(config, username, client_ip):
        for limit in limits:
            strategy.hit(limit, *key)
