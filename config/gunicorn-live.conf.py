"""gunicorn's settings for Kontaktcenter's live event streams:
`gunicorn -c config/gunicorn-live.conf.py wsgi:app`, bound to its own address; the reverse
proxy sends GET /live/stream there and everything else to config/gunicorn.conf.py's workers.

Set the address with `--bind` and the number of workers with LIVE_CONCURRENCY (default 2,
so a restart or a crash of one leaves the other's browsers connected).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kontaktcenter.config import load_config  # noqa: E402

workers = int(os.environ.get("LIVE_CONCURRENCY", 2))
# Threads (gthread workers): a stream is held open for minutes; each one holds a thread,
# idle (it waits on the feed, holds no database connection and no interpreter lock).
# `[live] web_threads` threads per worker: streams, plus the requests this process gets.
worker_class = "gthread"
threads = load_config()["live"]["web_threads"]
# A worker takes few more connections than it has threads (kept-alive idle ones, which
# hold no thread); the rest wait in the listening socket's backlog for whichever worker
# has room.
worker_connections = threads + 16
# A stream's lifetime ([live] stream_lifetime_seconds) is not bound by this in gthread
# workers: the timeout is the worker's heartbeat, not a request's.
timeout = 60
# On restart, streams end and browsers reconnect to the new workers at once.
graceful_timeout = 5
