"""Rate limits are shared between processes through Redis when REDIS_URL is set (several gunicorn workers)."""

import json
import subprocess
import sys
import uuid

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379/15"

# One web process: its own app and its own Limiter; only Redis can carry the count across.
WORKER = """
import json, sys
from kontaktcenter.app import create_app
app = create_app({"TESTING": True, "DATABASE_URL": sys.argv[1], "SECRET_KEY": "t", "REDIS_URL": sys.argv[2],
                  "RATELIMIT_ENABLED": True, "RATELIMIT_KEY_PREFIX": sys.argv[3], "RATELIMIT_CONTACT_FORM": "3 per hour",
                  "WTF_CSRF_ENABLED": False})
client = app.test_client()
# The honeypot is filled, so nothing is stored; the post still counts against the limit.
statuses = [client.post("/kontakt", data={"service": "skolval", "text": "x", "reply_channel": "none", "website": "spam"}).status_code
            for _ in range(int(sys.argv[4]))]
print(json.dumps(statuses))
"""

# The API's limit too (counted before the token is checked, so no token is needed here).
API_WORKER = """
import json, sys
from kontaktcenter.app import create_app
app = create_app({"TESTING": True, "DATABASE_URL": sys.argv[1], "SECRET_KEY": "t", "REDIS_URL": sys.argv[2],
                  "RATELIMIT_ENABLED": True, "RATELIMIT_KEY_PREFIX": sys.argv[3], "RATELIMIT_API": "3 per hour"})
client = app.test_client()
print(json.dumps([client.get("/api/v1/services").status_code for _ in range(int(sys.argv[4]))]))
"""


def _redis_or_skip():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")


def _worker(database_url: str, prefix: str, posts: int, script: str = WORKER) -> list[int]:
    done = subprocess.run(
        [
            sys.executable,  # noqa: S603 - this interpreter, our own script
            "-c",
            script,
            database_url,
            REDIS_URL,
            prefix,
            str(posts),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _forget(prefix: str) -> None:
    r = redis.Redis.from_url(REDIS_URL)
    for key in r.scan_iter(f"*{prefix}*"):  # the storage puts its own prefix before ours
        r.delete(key)


def test_two_processes_share_one_limit_through_redis(app, database_url):
    _redis_or_skip()
    prefix = f"kc-test-{uuid.uuid4().hex}"
    try:
        assert _worker(database_url, prefix, 2) == [400, 400]
        # A second process (another worker) sees the same client's two posts: one left, then refused.
        assert _worker(database_url, prefix, 2) == [400, 429]
    finally:
        _forget(prefix)


def test_two_processes_share_the_api_limit_through_redis(app, database_url):
    _redis_or_skip()
    prefix = f"kc-test-{uuid.uuid4().hex}"
    try:
        assert _worker(database_url, prefix, 2, API_WORKER) == [401, 401]
        assert _worker(database_url, prefix, 2, API_WORKER) == [401, 429]
    finally:
        _forget(prefix)
