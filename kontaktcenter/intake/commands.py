"""`kontaktcenter intake-worker`: route the contacts that queued intake acknowledged."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.orm import Session

from ..database import Reconnect, db, utcnow
from .worker import RoutingBackoff, keep_routing, oldest_waiting

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


class HostLoad:
    """How much of this machine's CPU time the other processes used since the last look.

    Linux only (/proc/stat); elsewhere it reports 0, and the worker never gives way.
    Time the hypervisor gave to other machines (steal) counts as neither busy nor idle.
    """

    STAT = Path("/proc/stat")

    def __init__(self) -> None:
        self._last = self._read()

    def _read(self) -> tuple[float, float, float] | None:
        try:
            ticks = [int(t) for t in self.STAT.read_text().split("\n", 1)[0].split()[1:8]]
        except (OSError, ValueError):
            return None
        per_second = os.sysconf("SC_CLK_TCK")
        user, nice, system, idle, iowait, irq, softirq = ticks
        busy = (user + nice + system + irq + softirq) / per_second
        own = sum(os.times()[:2])
        return busy, busy + (idle + iowait) / per_second, own

    def others(self) -> float:
        """The other processes' share of all CPU time since the last call, 0 to 1."""
        now, last = self._read(), self._last
        self._last = now
        if now is None or last is None or now[1] <= last[1]:
            return 0.0
        others = (now[0] - last[0]) - (now[2] - last[2])
        return min(1.0, max(0.0, others / (now[1] - last[1])))


@dataclass
class GiveWay:
    """Whether routing should wait because the machine is busy with other work.

    Routing shares the machine with the web server, and even a core it leaves idle is
    not free: a busy core slows the others of the same machine down (they share caches
    and memory), so in a burst every contact the worker routes costs acknowledgements. Routing can wait: a written contact's first answer is
    due within a working day, and its clocks run from its arrival. So while other
    processes use more than `share` of the machine, the worker waits, but never longer
    than `max_delay` for the oldest waiting contact; then it routes regardless.
    """

    share: float
    max_delay: timedelta
    others: Callable[[], float] = field(default_factory=lambda: HostLoad().others)
    waited: float = field(default=0.0, init=False)  # seconds spent giving way, for the worker's closing line
    _since: float | None = field(default=None, init=False)

    def now(self, session: Session) -> bool:
        if self.share >= 1 or self.others() <= self.share:
            return self.stop_waiting()
        oldest = oldest_waiting(session)
        if oldest is None or utcnow() - oldest >= self.max_delay:
            return self.stop_waiting()
        if self._since is None:
            self._since = time.monotonic()
        return True

    def stop_waiting(self) -> bool:
        if self._since is not None:
            self.waited += time.monotonic() - self._since
            self._since = None
        return False


def register(app: Flask) -> None:
    @app.cli.command("intake-worker")
    @click.option(
        "--batch", type=click.IntRange(1, 1000), default=200, show_default=True, help="contacts per transaction"
    )
    @click.option(
        "--idle",
        type=click.FloatRange(0.01, 60),
        default=0.2,
        show_default=True,
        help="seconds to wait before looking again when no contact waits",
    )
    @click.option(
        "--nice",
        "niceness",
        type=click.IntRange(0, 19),
        default=10,
        show_default=True,
        help="lower this process's CPU priority by this much (0: as the web server)",
    )
    @click.option(
        "--give-way",
        "share",
        type=click.FloatRange(0, 1),
        default=0.5,
        show_default=True,
        help="wait while other processes use more than this share of the machine's CPU (1: never wait)",
    )
    @click.option(
        "--max-delay",
        type=click.FloatRange(0, 3600),
        default=120,
        show_default=True,
        help="seconds the oldest waiting contact may wait while the worker gives way",
    )
    @click.option(
        "--seconds",
        type=click.FloatRange(0),
        default=None,
        help="stop after this many seconds (default: until Ctrl-C / SIGTERM)",
    )
    def intake_worker(
        batch: int, idle: float, niceness: int, share: float, max_delay: float, seconds: float | None
    ) -> None:
        """Route contacts the API acknowledged with API_INTAKE = "queued", oldest first.

        Several workers may run against one PostgreSQL database: each routes contacts
        the others have not locked. In a burst the worker gives way to the web server
        (see GiveWay) and catches up after. A lost database connection is logged once
        and retried with a growing pause (0.5 s up to 30 s); the worker never exits on it.
        """
        lower_priority(niceness)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        if seconds is not None:
            timer = threading.Timer(seconds, stop.set)
            timer.daemon = True
            timer.start()
        backoff = RoutingBackoff()
        give_way = GiveWay(share, timedelta(seconds=max_delay))
        reconnect = Reconnect("intake worker", log)
        with db.new_session() as session:
            routed = keep_routing(
                session, stop=stop, idle=idle, reconnect=reconnect, batch=batch, backoff=backoff, give_way=give_way.now
            )
        give_way.stop_waiting()  # a wait still running counts too
        click.echo(
            f"intake worker stopped: {routed} contact(s) routed; gave way to other work for {give_way.waited:.1f} s"
        )
