"""Gallring at scale: N closed tickets with one contact each on PostgreSQL, against one hand-written UPDATE.

Makes its own database (BENCH_DATABASE_URL, default …/kontaktcenter_bench), loads the
directory, and generates the rows inside PostgreSQL (INSERT … SELECT FROM
generate_series: a million tickets, contacts and two million events in seconds, no
Python row objects). Then, in the same run and on the same rows:

1. the baseline: one hand-written `UPDATE contacts … WHERE ticket_id IN (closed past
   their period)` blanking the same personal columns, timed and rolled back, then VACUUM;
2. gallring itself (`privacy.gallring.run`, as `kontaktcenter gallring --run` calls it,
   committing per id range), timed, with this process's peak RSS.

Gallring does more than the baseline (it also empties the tickets' subject, reply address
and receipt code and the events' values, and writes its records); the ratio shows what
that and the batching cost. The bar: ratio ≤ 3, peak RSS < 1 GB. Prints a summary and,
last, one line of JSON.

    .venv/bin/python bench/gallring.py [--contacts 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_url, recreate_database  # noqa: E402

NOW = datetime(2027, 1, 1, 2, 0, tzinfo=UTC)  # every generated ticket (closed in 2024) is past even P2Y
BAR_RATIO = 3.0
BAR_RSS_MB = 1024

TICKETS_SQL = """
INSERT INTO tickets (id, reference, kind, status, service_id, queue_id, priority, confidential, subject,
                     first_arrived_at, created_at, updated_at, resolved_at, resolution, escalated, reopened_count,
                     route_step, sla_breached, reply_channel, reply_to, receipt_code, retention_hold)
SELECT i, 'KC-2024-' || lpad(i::text, 7, '0'), 'errand', 'resolved',
       (:services)[1 + i % cardinality(:services)], :queue, 3, false, 'Fråga om mitt ärende ' || i,
       ts, ts, ts + interval '1 hour', ts + interval '1 hour', 'first_contact', false, 0, 0, false,
       'email', 'person' || i || '@example.se', 'ABCD' || lpad((i % 10000)::text, 4, '0'), ''
FROM (SELECT i, timestamptz '2024-01-01 07:00+01' + (i % 900000) * interval '30 seconds' AS ts
      FROM generate_series(1, :n) AS i) s
"""

CONTACTS_SQL = """
INSERT INTO contacts (id, channel, ticket_id, external_id, service_id, queue_id, language, need_interpreter, need_hearing,
                      need_vision, need_easy_read, citizen_name, citizen_phone, citizen_email, citizen_personnummer,
                      reply_channel, subject, text, arrived_at, answered_at, ended_at, outcome, wait_seconds,
                      callback_attempts, created_at, awaiting_routing, placement)
SELECT t.id, (ARRAY['phone','web','email','sms','walk_in','open311'])[1 + t.id % 6], t.id, 'bench-' || t.id,
       t.service_id, t.queue_id, 'sv', false, false, false, false,
       'Namn Efternamn ' || t.id, '+4670' || lpad(t.id::text, 7, '0'), 'person' || t.id || '@example.se',
       '19' || lpad((t.id % 100)::text, 2, '0') || '0101' || lpad((t.id % 10000)::text, 4, '0'),
       'email', t.subject, 'Jag heter Namn och bor på Storgatan ' || t.id || '.',
       t.first_arrived_at, t.first_arrived_at + interval '40 seconds', t.first_arrived_at + interval '5 minutes',
       CASE WHEN t.id % 6 = 1 THEN 'answered' WHEN t.id % 6 = 5 THEN 'served' END,
       CASE WHEN t.id % 6 = 1 THEN 40 END, 0, t.first_arrived_at, false, 'new'
FROM tickets t
"""

EVENTS_SQL = """
INSERT INTO ticket_events (ticket_id, at, kind, from_value, to_value, detail)
SELECT id, first_arrived_at, 'imported', NULL, 'bench-' || id, '{}'::json FROM tickets
UNION ALL
SELECT id, first_arrived_at, 'reply_address', NULL, 'email: person' || id || '@example.se',
       '{"reason": "medborgaren bad om det"}'::json FROM tickets
"""

BASELINE_SQL = """
UPDATE contacts SET citizen_name = '', citizen_phone = NULL, citizen_email = NULL, citizen_personnummer = NULL,
                    subject = '', text = ''
WHERE ticket_id IN (SELECT t.id FROM tickets t JOIN services s ON s.id = t.service_id
                    WHERE t.status = 'resolved' AND t.resolved_at <= :cutoff AND t.retention_hold = '' AND t.gallrad_at IS NULL)
"""


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def load(url: str, n: int) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        services = list(conn.scalars(text("SELECT id FROM services ORDER BY id")))
        queue = conn.scalar(text("SELECT id FROM queues WHERE code = 'kc-forsta-linjen'"))
        conn.execute(text(TICKETS_SQL), {"services": services, "queue": queue, "n": n})
        conn.execute(text(CONTACTS_SQL))
        conn.execute(text(EVENTS_SQL))
        conn.execute(text("SELECT setval(pg_get_serial_sequence('tickets', 'id'), :n)"), {"n": n})
        conn.execute(text("SELECT setval(pg_get_serial_sequence('contacts', 'id'), :n)"), {"n": n})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def baseline(url: str) -> tuple[float, int]:
    """The hand-written UPDATE of the same contact rows, timed, then rolled back and vacuumed away."""
    engine = create_engine(url)
    with engine.connect() as conn:
        trans = conn.begin()
        t0 = time.perf_counter()
        # The widest rule: P2Y, so every ticket gallring will take is in it.
        rows = conn.execute(text(BASELINE_SQL), {"cutoff": datetime(2025, 1, 1, 2, 0, tzinfo=UTC)}).rowcount
        seconds = time.perf_counter() - t0
        trans.rollback()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE contacts"))
    engine.dispose()
    return seconds, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    args = parser.parse_args()
    url = bench_url()
    recreate_database(url)

    from kontaktcenter.app import create_app
    from kontaktcenter.commands import upgrade_database
    from kontaktcenter.database import ENGINE_KEY, db
    from kontaktcenter.directory.service import load_catalogue
    from kontaktcenter.privacy import gallring

    upgrade_database(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-gallring"})
    with app.app_context():
        load_catalogue(db.session)
        db.session.commit()
        db.session.remove()

    t0 = time.perf_counter()
    load(url, args.contacts)
    print(
        f"generated {args.contacts:,} closed tickets, contacts and {2 * args.contacts:,} events in {time.perf_counter() - t0:.1f} s"
    )

    sql_s, sql_rows = baseline(url)
    print(f"hand-written UPDATE of the same contacts: {sql_rows:,} rows in {sql_s:.1f} s (rolled back)")

    rss_before = peak_rss_mb()
    with app.app_context():
        t0 = time.perf_counter()
        done = gallring.run(db.session, NOW, after_batch=db.session.commit)
        db.session.commit()
        gallring_s = time.perf_counter() - t0
        left = db.session.execute(
            text("SELECT count(*) FROM contacts WHERE citizen_phone IS NOT NULL OR citizen_name <> '' OR text <> ''")
        ).scalar()
        again = gallring.plan(db.session, NOW)
        db.session.remove()
    app.extensions[ENGINE_KEY].dispose()
    peak = peak_rss_mb()
    tickets = sum(p.tickets for p in done)
    contacts = sum(p.contacts for p in done)
    ratio = gallring_s / sql_s if sql_s else float("inf")

    print(f"gallring: {tickets:,} tickets, {contacts:,} contacts under {len(done)} rules in {gallring_s:.1f} s")
    print(f"contacts still holding personal data: {left:,}; due on a second run: {sum(p.tickets for p in again):,}")
    print(
        f"ratio gallring / hand-written UPDATE: {ratio:.2f} ({'within' if ratio <= BAR_RATIO else 'OVER'} the bar of {BAR_RATIO})"
    )
    print(
        f"peak RSS: {peak:.0f} MB (before gallring {rss_before:.0f} MB; {'within' if peak < BAR_RSS_MB else 'OVER'} the bar of {BAR_RSS_MB} MB)"
    )
    print(
        json.dumps(
            {
                "contacts": contacts,
                "gallring_s": round(gallring_s, 2),
                "sql_s": round(sql_s, 2),
                "ratio": round(ratio, 2),
                "peak_rss_mb": round(peak, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
