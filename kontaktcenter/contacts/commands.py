"""`kontaktcenter intake-worker`: route the contacts that queued intake acknowledged."""
from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path

import click
from flask import Flask

from ..database import db
from .service import RoutingBackoff, route_all_waiting

log = logging.getLogger(__name__)


AUTOGROUP = Path("/proc/self/autogroup")


def lower_priority(niceness: int) -> None:
    """Run below the web server's CPU priority: in a burst the intake answers first and the
    worker catches up after (routing can wait seconds; a citizen's answer cannot).

    Linux with autogroup weighs sessions against each other and nice only within one, so a
    worker leading its own session (as under systemd) lowers its session's weight too.
    """
    os.nice(niceness)
    if niceness and os.getsid(0) == os.getpid() and AUTOGROUP.exists():
        try:
            AUTOGROUP.write_text(str(niceness))
        except OSError as exc:
            log.warning("could not lower the session's CPU weight (%s); nice %d applies within it only", exc, niceness)


def register(app: Flask) -> None:
    @app.cli.command("intake-worker")
    @click.option("--batch", type=click.IntRange(1, 1000), default=50, show_default=True, help="contacts per transaction")
    @click.option("--idle", type=click.FloatRange(0.01, 60), default=0.2, show_default=True,
                  help="seconds to wait before looking again when no contact waits")
    @click.option("--nice", "niceness", type=click.IntRange(0, 19), default=10, show_default=True,
                  help="lower this process's CPU priority by this much (0: as the web server)")
    @click.option("--seconds", type=click.FloatRange(0), default=None, help="stop after this many seconds (default: until Ctrl-C / SIGTERM)")
    def intake_worker(batch: int, idle: float, niceness: int, seconds: float | None) -> None:
        """Route contacts the API acknowledged with API_INTAKE = "queued", oldest first.

        Several workers may run against one PostgreSQL database: each routes contacts
        the others have not locked.
        """
        lower_priority(niceness)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        if seconds is not None:
            timer = threading.Timer(seconds, stop.set)
            timer.daemon = True
            timer.start()
        routed = 0
        backoff = RoutingBackoff()
        with db.new_session() as session:
            while not stop.is_set():
                routed += route_all_waiting(session, batch=batch, stop=stop, backoff=backoff)
                stop.wait(idle)
        click.echo(f"intake worker stopped: {routed} contact(s) routed")
