"""gunicorn's settings for Kontaktcenter: `gunicorn -c config/gunicorn.conf.py wsgi:app`.

Set the address with `--bind` (or GUNICORN_CMD_ARGS) and the number of workers with
WEB_CONCURRENCY; the benchmarks start gunicorn with this file too.
"""

import multiprocessing
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kontaktcenter.config import load_config  # noqa: E402

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Threads (gthread workers), because the live pages hold a Server-Sent Events stream open
# for minutes (GET /live/stream): a sync worker would be taken whole by one browser. Each
# worker runs `[live] web_threads` threads; an open stream holds one, idle (it waits on
# the feed, holds no database connection and no interpreter lock), the rest serve ordinary
# requests. bench/wallboard.py runs 200 streams beside bench/webhooks.py's paced load.
worker_class = "gthread"
threads = load_config()["live"]["web_threads"]
# A worker takes few more connections than it has threads (kept-alive idle ones, which
# hold no thread): a request accepted far beyond that would wait in the worker behind
# streams that last minutes while another worker is free. The rest wait in the listening
# socket's backlog for whichever worker has room.
worker_connections = threads + 16
# Long enough for the slowest report; a stream's lifetime ([live] stream_lifetime_seconds)
# is not bound by it in gthread workers (the timeout is the worker's heartbeat, not a request's).
timeout = 60
# On restart, streams end and browsers reconnect to the new workers at once.
graceful_timeout = 5
