"""cProfile the intake worker on one batch of waiting contacts on PostgreSQL: where the time goes.

    PYTHONPATH=. .venv/bin/python bench/route_profile.py [--contacts 500] [--batch 500]

Makes its own database (BENCH_DATABASE_URL), accepts `--contacts` API contacts (queued
intake), routes them with route_all_waiting and prints the CPU per routed contact, the
statements per contact and the top of the profile.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import secrets
import sys
import time
from pathlib import Path

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_url, recreate_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    from kontaktcenter.app import create_app
    from kontaktcenter.channels.web.catalogue import web_services
    from kontaktcenter.commands import upgrade_database
    from kontaktcenter.database import db
    from kontaktcenter.demo import load_demo_users
    from kontaktcenter.directory.catalogue import DEMO_USERS
    from kontaktcenter.directory.service import load_catalogue
    from kontaktcenter.intake.incoming import IncomingContact
    from kontaktcenter.intake.receive import accept
    from kontaktcenter.intake.worker import route_all_waiting

    url = bench_url()
    recreate_database(url)
    upgrade_database(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-profile", "SCHEDULER_ENABLED": False})
    rng = random.Random(2026)
    with app.app_context():
        load_catalogue(db.session)
        load_demo_users(db.session, {u[0]: secrets.token_urlsafe(12) for u in DEMO_USERS})
        services = [s.code for s in web_services(db.session) if not s.requires_personnummer]
        for n in range(args.contacts):
            accept(
                db.session,
                IncomingContact(
                    channel="web",
                    service_code=rng.choice(services),
                    text=f"Hej, en fråga (#{n})",
                    email=f"invanare{n}@example.se",
                    reply_channel="email",
                    provider_sid=f"profile-{n}",
                ),
            )
        db.session.commit()
        route_all_waiting(db.session, batch=5)  # warm: rules loaded, statements compiled
        for n in range(args.contacts, args.contacts + args.contacts):
            accept(
                db.session,
                IncomingContact(
                    channel="web",
                    service_code=rng.choice(services),
                    text=f"Hej, en fråga (#{n})",
                    email=f"invanare{n}@example.se",
                    reply_channel="email",
                    provider_sid=f"profile-{n}",
                ),
            )
        db.session.commit()
        statements = [0]
        kinds: dict[str, int] = {}

        waited: dict[str, float] = {}

        def count(_conn, _cursor, statement, *_rest):
            statements[0] += 1
            kinds[statement[:60]] = kinds.get(statement[:60], 0) + 1
            waited[statement[:60]] = waited.get(statement[:60], 0.0) - time.perf_counter()

        def counted(_conn, _cursor, statement, *_rest):
            waited[statement[:60]] += time.perf_counter()

        event.listen(db.engine, "before_cursor_execute", count)
        event.listen(db.engine, "after_cursor_execute", counted)
        profile = cProfile.Profile()
        cpu = time.process_time()
        profile.enable()
        routed = route_all_waiting(db.session, batch=args.batch)
        profile.disable()
        cpu = time.process_time() - cpu
    print(
        f"routed {routed}: {cpu / max(routed, 1) * 1000:.2f} ms CPU and "
        f"{statements[0] / max(routed, 1):.1f} statements per contact (profiler on)"
    )
    print("statements by the time they took (the database's part and the driver's):")
    for kind, seconds in sorted(waited.items(), key=lambda k: -k[1])[:10]:
        print(f"{kinds[kind]:6d} {seconds * 1000:8.1f} ms  {kind}")
    stats = pstats.Stats(profile).sort_stats("cumulative")
    stats.print_stats(args.top)
    stats.print_stats("kontaktcenter", args.top)


if __name__ == "__main__":
    main()
