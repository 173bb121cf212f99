"""gunicorn's settings for Kontaktcenter's web: `gunicorn -c config/gunicorn.conf.py wsgi:app`.

Set the address with `--bind` (or GUNICORN_CMD_ARGS) and the number of workers with
WEB_CONCURRENCY; the benchmarks start gunicorn with this file too. The live pages' event
streams (GET /live/stream) are served by their own processes, config/gunicorn-live.conf.py:
the reverse proxy sends that one path there (README: Serve in production).
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Sync workers: one request at a time per process, each taken from the listening socket by
# whichever worker is free. Threaded workers kept each kept-alive connection on the worker
# that accepted it and ran its requests beside others under one interpreter lock: a paced
# webhook's p99 was several times as long (bench/webhooks.py). A stream reaching a sync worker
# is refused at once (live/views.py), so a misrouted browser cannot take a worker for minutes.
worker_class = "sync"
# Long enough for the slowest report.
timeout = 60
graceful_timeout = 5
