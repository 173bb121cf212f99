"""Server-Sent Events: one stream of notices for one listener, with heartbeats and an end."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator

from .access import Listener
from .feed import RESET, Hub, Subscription
from .notices import Notice

# How long the browser waits before reconnecting after a stream ends (milliseconds).
RETRY_MS = 2000
# At most this many notices in one write.
BATCH = 100


# The last words of a stream whose session ended: the page stops listening (live.js).
SIGNED_OUT = 'event: signed-out\ndata: {"kind":"signed-out"}\n\n'
# The whole stream of a worker that may not hold one open: the browser stops listening
# and the page offers its refresh link instead (live.js).
UNAVAILABLE = 'event: unavailable\ndata: {"kind":"unavailable"}\n\n'


def event(notice: Notice) -> str:
    return f"id: {notice.id}\nevent: notice\ndata: {notice.public()}\n\n"


def reset_event() -> str:
    # No id: the browser keeps its last one, and the next reconnect tries it again.
    return 'event: reset\ndata: {"kind":"reset"}\n\n'


def events(
    hub: Hub,
    sub: Subscription,
    listener: Listener,
    *,
    last_event_id: str,
    heartbeat: float,
    lifetime: float,
    clock=time.monotonic,
    signed_in: Callable[[], bool] = lambda: True,
) -> Iterator[str]:
    """The stream's text: what the listener missed since `last_event_id`, then notices as
    they come, a comment line after `heartbeat` seconds of silence, until `lifetime`.

    Every `heartbeat` seconds it asks `signed_in()`: a session ended elsewhere (signed out,
    a new password, the account disabled) ends the stream then, not at its lifetime; the
    browser's reconnect is refused, so nothing more reaches a signed-out user.
    """
    try:
        yield f"retry: {RETRY_MS}\n: {' ' * 64}\n\n"  # some proxies hold the first bytes back
        if last_event_id:
            missed = hub.since(last_event_id, listener.topics)
            if missed is None:
                yield reset_event()
            else:
                for notice in missed:
                    shown = listener.receives(notice)
                    if shown is not None:
                        yield event(shown)
        # Each stream ends a little sooner than the last, so a wall of browsers does not reconnect at once.
        end = clock() + lifetime * random.uniform(0.8, 1.0)  # noqa: S311 - spreading, not secrecy
        last_sent = next_check = clock()
        while True:
            now = clock()
            if now >= end:
                return
            if now >= next_check:
                if not signed_in():
                    yield SIGNED_OUT
                    return
                next_check = now + heartbeat
            notice = sub.get(timeout=max(0.0, min(end - now, last_sent + heartbeat - now, next_check - now)))
            if sub.overflowed:
                yield reset_event()
                return
            if notice is None:
                if clock() - last_sent >= heartbeat:
                    yield ": heartbeat\n\n"
                    last_sent = clock()
                continue
            # Whatever else is already waiting goes out in the same write: under a burst of
            # changes each stream wakes once, not once per notice.
            batch = []
            while notice is not None and len(batch) < BATCH:
                if notice is RESET:
                    batch.append(reset_event())
                else:
                    shown = listener.receives(notice)
                    if shown is not None:
                        batch.append(event(shown))
                notice = sub.get(timeout=0) if len(batch) < BATCH else None
            if batch:
                yield "".join(batch)
                last_sent = clock()
    finally:
        hub.unsubscribe(sub)
