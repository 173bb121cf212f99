"""gunicorn's settings for Kontaktcenter: `gunicorn -c config/gunicorn.conf.py wsgi:app`.

Set the address with `--bind` (or GUNICORN_CMD_ARGS) and the number of workers with
WEB_CONCURRENCY; the benchmarks start gunicorn with this file too.
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# One request at a time per worker process (sync workers), chosen over threads with
# bench/webhooks.py. A request here is a chain of short database round trips: with
# several threads in one process, a thread whose answer has arrived waits for the
# interpreter lock while another runs Python, and a webhook's dozen round trips add up
# to a longer tail of slow answers. And as a sync worker takes each request from the shared
# socket when it is free, a burst is spread over the workers instead of queueing behind
# the one that holds a kept-alive connection. Slow clients are the proxy's to buffer.
worker_class = "sync"
