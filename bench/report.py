#!/usr/bin/env python3
"""Benchmark: the tillgänglighet report on a year of a city's contacts, against hand-written SQL.

Makes its own PostgreSQL database (BENCH_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/kontaktcenter_bench), migrates it,
loads the catalogue and generates N contacts (default 1,000,000) over 12 months with
COPY, one ticket each, from 80,000 citizens identified by phone, e-mail or personnummer
as their channel gives them, so the repeat-contact rule has repeats to find (in a child
process, so the peak memory reported is the report's, not the generator's). Then, in
the same run, it times

  * the nightly rollup job over the year (what the scheduler keeps up to date),
  * the report grouped by service and month as the dashboard, the CLI and the exports
    get it (`report()`: settled days from the rollups, the percentiles from the rows):
    this is `report_s`,
  * the same report on the fly from the rows alone (`report_on_the_fly_s`),
  * a hand-written SQL aggregation of the same figures (one statement): `sql_s`,
  * the service-development report by service and month (`development_s`) and the
    department quarter report of one department (`quarter_s`), bar: each < 5 s,

checks that all three give identical figures, prints the
timings (median of --runs), the ratio and the peak memory, and ends with one JSON line.
Bars: report < 3 s and ≤ 2× the SQL; peak RSS < 1 GB.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_url, drop_database, recreate_database  # noqa: E402

from kontaktcenter.directory.models import Department  # noqa: E402
from kontaktcenter.metrics.development import development_report  # noqa: E402
from kontaktcenter.metrics.engine import FIGURE_NAMES, ReportQuery, deadline_rows, records  # noqa: E402
from kontaktcenter.metrics.quarter import quarter_report  # noqa: E402
from kontaktcenter.metrics.report import report  # noqa: E402

YEAR_START = date(2025, 1, 1)
YEAR_END = date(2025, 12, 31)
SHORT_ABANDON = 5
CHANNELS = np.array(["phone", "web", "email", "sms", "walk_in", "open311"])
CHANNEL_P = np.array([45, 20, 9, 7, 14, 5]) / 100
LANGUAGES = np.array(["sv", "en", "ar", "so", "fa", "pl", "bs"])
LANGUAGE_P = np.array([78, 7, 8, 2, 2, 2, 1]) / 100
CITIZENS = 80_000  # distinct citizens: enough contacts per citizen and service for repeat contacts
QUARTER_DEPARTMENT = "grundskola"  # the quarter report's department (the one with the most services)


def peak_rss_mb() -> float:
    """Peak memory of this process: the report, the SQL and the rollups (not the generator)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ts(values: np.ndarray) -> pd.Series:
    """Epoch seconds (NaN = none) → ISO text with offset for COPY; None (NULL) for none."""
    series = pd.to_datetime(pd.Series(values), unit="s", utc=True)
    return series.dt.strftime("%Y-%m-%d %H:%M:%S.%f+00").where(series.notna(), None)


def generate(engine, contacts: int, seed: int = 2025, chunk: int = 200_000) -> None:
    """N contacts with their tickets, written with COPY in chunks (bounded memory)."""
    rng = np.random.default_rng(seed)
    with engine.connect() as conn:
        services = conn.execute(
            text("SELECT s.id, s.code, s.confidential, s.walk_in_topic FROM services s ORDER BY s.id")
        ).all()
        locations = [r[0] for r in conn.execute(text("SELECT id FROM locations WHERE kind <> 'contact_center'"))]
        queue_id = conn.execute(text("SELECT id FROM queues WHERE code = 'kc-forsta-linjen'")).scalar_one()
        reason_rows = conn.execute(text("SELECT service_id, id FROM contact_reasons WHERE active")).all()
    reasons_of: dict[int, np.ndarray] = {}
    for service_id, reason_id in reason_rows:
        reasons_of.setdefault(service_id, []).append(reason_id)
    reasons_of = {k: np.array(v) for k, v in reasons_of.items()}
    regular = np.array([s[0] for s in services if not s[3]])
    walk_in_topics = np.array([s[0] for s in services if s[3]])
    confidential = {s[0] for s in services if s[2]}
    year_start = datetime(YEAR_START.year, 1, 1, tzinfo=UTC).timestamp()
    seconds_in_year = (datetime(YEAR_END.year + 1, 1, 1, tzinfo=UTC).timestamp() - year_start) - 3 * 3600
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        next_id = 1
        written = 0
        while written < contacts:
            n = min(chunk, contacts - written)
            ids = np.arange(next_id, next_id + n)
            # Arrivals: any day of the year, mostly in office hours (UTC+1/+2 → 06–16 UTC).
            day = rng.integers(0, int(seconds_in_year // 86400), n)
            clock = np.clip(rng.normal(10.5 * 3600, 2.6 * 3600, n), 5 * 3600, 20 * 3600)
            arrived = year_start + day * 86400.0 + clock + rng.random(n)
            channel = rng.choice(CHANNELS, n, p=CHANNEL_P)
            walk = channel == "walk_in"
            phone = channel == "phone"
            written_ch = ~walk & ~phone
            service = np.where(walk, rng.choice(walk_in_topics, n), rng.choice(regular, n))
            language = rng.choice(LANGUAGES, n, p=LANGUAGE_P)
            interpreter = (~np.isin(language, ["sv", "en"])) & (rng.random(n) < 0.5)
            location = np.where(walk, rng.choice(locations, n), 0)
            r = rng.random(n)
            outcome = np.full(n, None, dtype=object)
            outcome[phone] = np.where(
                r[phone] < 0.76,
                "answered",
                np.where(r[phone] < 0.86, "callback_requested", np.where(r[phone] < 0.98, "abandoned", "ivr_dropped")),
            )
            outcome[walk] = np.where(r[walk] < 0.92, "served", "left")
            wait = rng.exponential(70, n)
            short = rng.random(n) < 0.3
            wait = np.where((outcome == "abandoned") & short, rng.uniform(0.5, 5, n), wait)
            answered = np.where(np.isin(outcome, ["answered"]), arrived + wait, np.nan)
            answered = np.where(outcome == "served", arrived + rng.exponential(480, n), answered)
            ended = np.where(outcome == "answered", answered + np.clip(rng.normal(240, 80, n), 30, None), np.nan)
            ended = np.where(
                np.isin(outcome, ["abandoned", "callback_requested", "ivr_dropped"]), arrived + wait, ended
            )
            ended = np.where(outcome == "served", answered + rng.uniform(240, 1500, n), ended)
            ended = np.where(outcome == "left", arrived + rng.uniform(300, 2400, n), ended)
            callback_done = np.where(
                (outcome == "callback_requested") & (rng.random(n) < 0.85), ended + rng.uniform(600, 14400, n), np.nan
            )
            hours = np.where(rng.random(n) < 0.9, rng.exponential(14, n), rng.uniform(24, 96, n))
            first_response = np.where(written_ch & (rng.random(n) < 0.93), arrived + hours * 3600, np.nan)
            # Tickets: one per contact; most resolved by the kontaktcenter, some escalated.
            rr = rng.random(n)
            escalated = rr < 0.2
            resolution = np.where(
                escalated,
                np.where(rng.random(n) < 0.8, "department", "unresolved"),
                np.where(rr < 0.75, "first_contact", np.where(rr < 0.85, "kontaktcenter", "unresolved")),
            )
            resolution = np.where(np.isin(outcome, ["abandoned", "left", "ivr_dropped"]), "unresolved", resolution)
            # Citizens: phone and SMS carry a number, the web and e-mail an address, some
            # visits a personnummer, Open311 nothing; a pool small enough for repeat contacts.
            citizen = rng.integers(0, CITIZENS, n)
            phone_no = pd.Series(citizen).map("+4670{:07d}".format).where(np.isin(channel, ["phone", "sms"]), None)
            email = pd.Series(citizen).map("c{}@example.se".format).where(np.isin(channel, ["web", "email"]), None)
            pnr = pd.Series(citizen).map("19{:010d}".format).where(walk & (rng.random(n) < 0.3), None)
            resolved_at = np.where(resolution != "unresolved", arrived + rng.uniform(60, 86400 * 5, n), np.nan)
            arrived_txt = _ts(arrived)
            resolved_txt = _ts(resolved_at)
            years = pd.to_datetime(pd.Series(arrived), unit="s", utc=True).dt.year.astype(str)
            tickets = pd.DataFrame(
                {
                    "id": ids,
                    "reference": "KC-" + years + "-" + pd.Series(ids).map("{:07d}".format),
                    "kind": "errand",
                    "status": np.where(
                        resolution != "unresolved", "resolved", np.where(escalated, "escalated", "open")
                    ),
                    "service_id": service,
                    "queue_id": queue_id,
                    "priority": 3,
                    "confidential": pd.Series(service).isin(confidential).map({True: "t", False: "f"}),
                    "subject": "",
                    "first_arrived_at": arrived_txt,
                    "created_at": arrived_txt,
                    "updated_at": arrived_txt,
                    "resolved_at": resolved_txt,
                    "resolution": resolution,
                    "escalated": np.where(escalated, "t", "f"),
                    "reopened_count": 0,
                    "route_step": 0,
                    "sla_breached": "f",
                }
            )
            _copy(cur, "tickets", tickets)
            contacts_df = pd.DataFrame(
                {
                    "id": ids,
                    "channel": channel,
                    "citizen_name": "",
                    "ticket_id": ids,
                    "service_id": service,
                    "queue_id": queue_id,
                    "location_id": pd.Series(location).where(location > 0, None).astype("Int64"),
                    "language": language,
                    "need_interpreter": np.where(interpreter, "t", "f"),
                    "need_hearing": np.where(rng.random(n) < 0.01, "t", "f"),
                    "need_vision": np.where(rng.random(n) < 0.01, "t", "f"),
                    "need_easy_read": np.where(rng.random(n) < 0.01, "t", "f"),
                    "citizen_phone": phone_no,
                    "citizen_email": email,
                    "citizen_personnummer": pnr,
                    "reply_channel": "none",
                    "subject": "",
                    "text": "",
                    "arrived_at": arrived_txt,
                    "answered_at": _ts(answered),
                    "ended_at": _ts(ended),
                    "outcome": outcome,
                    "callback_completed_at": _ts(callback_done),
                    "callback_attempts": 0,
                    "first_response_at": _ts(first_response),
                    "created_at": arrived_txt,
                }
            )
            # Imported history carries a pseudonymous key where it has no other identifier
            # (a tenth of those contacts); 60 % of contacts have a reason.
            unidentified = phone_no.isna() & email.isna() & pnr.isna()
            contacts_df["citizen_key"] = np.where(
                unidentified & (rng.random(n) < 0.1), "K" + pd.Series(citizen).astype(str), None
            )
            reason = np.zeros(n, dtype=np.int64)
            for service_id in np.unique(service):
                pool = reasons_of.get(int(service_id))
                if pool is not None:
                    mask = service == service_id
                    reason[mask] = rng.choice(pool, int(mask.sum()))
            reason = np.where(rng.random(n) < 0.6, reason, 0)
            contacts_df["reason_id"] = pd.Series(reason).where(reason > 0, None).astype("Int64")
            _copy(cur, "contacts", contacts_df)
            # An article used on 15 % of the tickets (kb_answered).
            used = rng.random(n) < 0.15
            _copy(
                cur,
                "ticket_events",
                pd.DataFrame(
                    {
                        "ticket_id": ids[used],
                        "at": arrived_txt[used].to_numpy(),
                        "kind": "knowledge_used",
                        "to_value": "1",
                        "detail": "{}",
                    }
                ),
            )
            raw.commit()
            written += n
            next_id += n
            print(f"  generated {written:,} / {contacts:,} contacts", flush=True)
        cur.execute("SELECT setval('tickets_id_seq', (SELECT max(id) FROM tickets))")
        cur.execute("SELECT setval('contacts_id_seq', (SELECT max(id) FROM contacts))")
        raw.commit()
        cur.execute("ANALYZE contacts")
        cur.execute("ANALYZE tickets")
        cur.execute("ANALYZE ticket_events")
        raw.commit()
    finally:
        raw.close()


def _copy(cur, table: str, frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    # Strings are quoted, so '' stays an empty string in NOT NULL text columns; in the
    # nullable columns (FORCE_NULL) an empty value is NULL.
    frame.to_csv(buffer, index=False, header=False, quoting=csv.QUOTE_NONNUMERIC)
    columns = ", ".join(frame.columns)
    nullable = ", ".join(
        c
        for c in frame.columns
        if c.endswith("_at")
        or (c.startswith("citizen_") and c != "citizen_name")
        or c in ("location_id", "outcome", "reason_id")
    )
    force_null = f", FORCE_NULL ({nullable})" if nullable else ""
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv{force_null})") as copy:
        copy.write(buffer.getvalue())


HAND_SQL = """
WITH deadlines(day, deadline_day, midnight) AS (VALUES {deadlines}),
c AS (
  SELECT s.code AS service,
         to_char(k.arrived_at AT TIME ZONE 'Europe/Stockholm', 'YYYY-MM') AS period,
         k.channel, k.outcome, k.arrived_at, k.answered_at, k.ended_at, k.callback_completed_at, k.first_response_at,
         s.answer_target_seconds AS target,
         CASE WHEN k.outcome = 'answered' THEN EXTRACT(EPOCH FROM k.answered_at - k.arrived_at)
              ELSE EXTRACT(EPOCH FROM k.ended_at - k.arrived_at) END AS wait,
         CASE WHEN k.channel IN ('web', 'email', 'sms', 'open311') THEN
           (d.deadline_day + CASE WHEN d.midnight THEN TIME '00:00'
                                  ELSE (k.arrived_at AT TIME ZONE 'Europe/Stockholm')::time END) AT TIME ZONE 'Europe/Stockholm'
         END AS deadline
  FROM contacts k
  JOIN services s ON s.id = k.service_id
  LEFT JOIN deadlines d ON k.channel IN ('web', 'email', 'sms', 'open311')
                       AND d.day = (k.arrived_at AT TIME ZONE 'Europe/Stockholm')::date
  WHERE k.arrived_at >= :lo AND k.arrived_at < :hi
),
ca AS (
  SELECT service, period,
    count(*) FILTER (WHERE channel = 'phone' AND outcome IN ('answered', 'abandoned', 'callback_requested')) AS queued,
    count(*) FILTER (WHERE channel = 'phone' AND outcome = 'abandoned' AND wait < :short) AS short,
    count(*) FILTER (WHERE channel = 'phone' AND outcome = 'answered') AS answered,
    count(*) FILTER (WHERE channel = 'phone' AND outcome = 'callback_requested') AS cb_req,
    count(*) FILTER (WHERE channel = 'phone' AND outcome = 'callback_requested' AND callback_completed_at IS NOT NULL) AS cb_done,
    count(*) FILTER (WHERE channel = 'phone' AND outcome = 'answered' AND wait <= target) AS in_target,
    avg(wait) FILTER (WHERE channel = 'phone' AND outcome = 'answered') AS asa,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY wait) FILTER (WHERE channel = 'phone' AND outcome = 'answered') AS p90,
    avg(EXTRACT(EPOCH FROM ended_at - answered_at)) FILTER (WHERE channel = 'phone' AND outcome = 'answered') AS aht,
    count(*) FILTER (WHERE deadline IS NOT NULL OR channel IN ('web', 'email', 'sms', 'open311')) AS w_recv,
    count(*) FILTER (WHERE deadline < :as_of) AS w_due,
    count(*) FILTER (WHERE deadline < :as_of AND first_response_at <= deadline) AS w_ok,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM first_response_at - arrived_at) / 3600.0)
      FILTER (WHERE channel IN ('web', 'email', 'sms', 'open311') AND first_response_at IS NOT NULL) AS med_h,
    count(*) FILTER (WHERE channel = 'walk_in') AS visits,
    avg(EXTRACT(EPOCH FROM answered_at - arrived_at)) FILTER (WHERE channel = 'walk_in' AND outcome = 'served') AS v_wait,
    count(*) FILTER (WHERE channel = 'walk_in' AND outcome = 'left') AS v_left
  FROM c GROUP BY service, period
),
ta AS (
  SELECT s.code AS service, to_char(t.first_arrived_at AT TIME ZONE 'Europe/Stockholm', 'YYYY-MM') AS period,
    count(*) AS tickets,
    count(*) FILTER (WHERE t.resolution = 'first_contact' AND NOT t.escalated AND NOT EXISTS (
      SELECT 1 FROM contacts f JOIN contacts r
        ON r.citizen_phone = f.citizen_phone OR r.citizen_email = f.citizen_email
        OR r.citizen_personnummer = f.citizen_personnummer OR r.citizen_key = f.citizen_key
      WHERE f.ticket_id = t.id AND f.arrived_at = t.first_arrived_at AND r.service_id = t.service_id
        AND r.arrived_at > t.resolved_at AND r.arrived_at <= t.resolved_at + INTERVAL '168 hours')) AS fcr,
    count(*) FILTER (WHERE t.resolution IN ('first_contact', 'kontaktcenter') AND NOT t.escalated) AS kc,
    count(*) FILTER (WHERE t.escalated) AS esc
  FROM tickets t JOIN services s ON s.id = t.service_id
  WHERE t.first_arrived_at >= :lo AND t.first_arrived_at < :hi
  GROUP BY 1, 2
)
SELECT coalesce(ca.service, ta.service) AS service, coalesce(ca.period, ta.period) AS period,
  coalesce(queued, 0) AS phone_queued, coalesce(short, 0) AS phone_short_abandoned,
  coalesce(queued - short, 0) AS phone_offered, coalesce(answered, 0) AS phone_answered,
  coalesce(cb_req, 0) AS callbacks_requested, coalesce(cb_done, 0) AS callbacks_completed,
  coalesce(queued - short - answered - cb_req, 0) AS phone_abandoned,
  round((answered + cb_done)::numeric / nullif(queued - short, 0), 4) AS answer_rate,
  round((queued - short - answered - cb_req)::numeric / nullif(queued - short, 0), 4) AS abandon_rate,
  round(in_target::numeric / nullif(queued - short, 0), 4) AS service_level,
  round(asa::numeric, 1) AS asa_seconds, round(p90::numeric, 1) AS wait_p90_seconds, round(aht::numeric, 1) AS aht_seconds,
  coalesce(w_recv, 0) AS written_received, coalesce(w_due, 0) AS written_due, coalesce(w_ok, 0) AS responded_within_1wd,
  round(w_ok::numeric / nullif(w_due, 0), 4) AS response_within_1wd_rate, round(med_h::numeric, 2) AS median_first_response_hours,
  coalesce(visits, 0) AS walkin_visits, round(v_wait::numeric, 1) AS walkin_wait_mean_seconds, coalesce(v_left, 0) AS walkin_left_unserved,
  coalesce(tickets, 0) AS tickets, coalesce(fcr, 0) AS resolved_first_contact, coalesce(kc, 0) AS resolved_kontaktcenter,
  coalesce(esc, 0) AS escalated,
  round(fcr::numeric / nullif(tickets, 0), 4) AS fcr_rate, round(kc::numeric / nullif(tickets, 0), 4) AS kc_resolution_rate,
  round(esc::numeric / nullif(tickets, 0), 4) AS escalation_rate
FROM ca FULL OUTER JOIN ta ON ca.service = ta.service AND ca.period = ta.period
ORDER BY 1, 2
"""


def hand_sql(conn, calendar, as_of: datetime) -> list[dict]:
    from kontaktcenter.metrics.engine import period_bounds

    lo, hi = period_bounds(YEAR_START, YEAR_END)
    deadlines = ", ".join(
        f"(DATE '{d}', DATE '{n}', {'true' if m else 'false'})"
        for d, n, m in deadline_rows(calendar, YEAR_START, YEAR_END)
    )
    result = conn.execute(
        text(HAND_SQL.format(deadlines=deadlines)), {"lo": lo, "hi": hi, "short": SHORT_ABANDON, "as_of": as_of}
    )
    rows = []
    for row in result.mappings():
        rows.append({k: (float(v) if hasattr(v, "as_tuple") else v) for k, v in row.items()})
    return rows


def timed(fn, runs: int) -> tuple[float, object]:
    times = []
    value = None
    for _ in range(runs):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def _existing_contacts(url: str) -> int | None:
    """How many contacts a kept benchmark database holds (None if there is none)."""
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM contacts")).scalar_one()
    except Exception:  # noqa: BLE001 - no database, no table: generate afresh
        return None
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each query (the median is reported)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="use a kept database if it holds exactly --contacts contacts"
    )
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = bench_url()
    if args.generate_only:
        # The child process that fills the database, so its memory is not the report's.
        generate(create_engine(url), args.contacts)
        return 0

    from kontaktcenter.app import create_app
    from kontaktcenter.commands import upgrade_database
    from kontaktcenter.database import db
    from kontaktcenter.directory.service import load_catalogue
    from kontaktcenter.metrics.rollups import compute_rollups
    from kontaktcenter.worktime.calendar import current_calendar

    reuse = args.reuse and _existing_contacts(url) == args.contacts
    if not reuse:
        print(f"== database {url.rsplit('/', 1)[1]}: fresh, migrated, catalogue loaded")
        recreate_database(url)
        upgrade_database(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "SCHEDULER_ENABLED": False})
    generate_s = 0.0
    try:
        with app.app_context():
            if reuse:
                print(f"== reusing database {url.rsplit('/', 1)[1]} with {args.contacts:,} contacts")
            else:
                load_catalogue(db.session)
                db.session.commit()
                print(f"== generating {args.contacts:,} contacts over {YEAR_START} – {YEAR_END} (COPY)")
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, __file__, "--contacts", str(args.contacts), "--generate-only"], check=True
                )
                generate_s = time.perf_counter() - start
                generator_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                print(f"   {generate_s:.1f} s (generator process peak RSS {generator_rss:.0f} MB)")
            calendar = current_calendar()
            as_of = datetime(2026, 2, 1, tzinfo=UTC)
            query = ReportQuery(YEAR_START, YEAR_END, by=("service", "period"), period="month", as_of=as_of)

            def engine_report(use_rollups: bool):
                rows = records(report(db.session, query, calendar, SHORT_ABANDON, use_rollups=use_rollups))
                db.session.rollback()
                return rows

            def sql_report():
                with db.engine.connect() as conn:
                    return hand_sql(conn, calendar, as_of)

            print("== the nightly rollup job over the year (what the scheduler keeps up to date)")
            start = time.perf_counter()
            compute_rollups(db.session, YEAR_START, YEAR_END, calendar, SHORT_ABANDON, as_of)
            db.session.commit()
            rollup_build_s = time.perf_counter() - start
            print(f"   {rollup_build_s:.2f} s")

            engine_report(True)  # warm the caches once for each
            engine_report(False)
            sql_report()
            print(f"== timing the report grouped by service and month (median of {args.runs})")
            report_s, served_rows = timed(lambda: engine_report(True), args.runs)
            fly_s, fly_rows = timed(lambda: engine_report(False), args.runs)
            sql_s, sql_rows = timed(sql_report, args.runs)
            columns = ["service", "period", *FIGURE_NAMES]
            mismatches = [
                (a["service"], a["period"], c)
                for a, b in zip(fly_rows, sql_rows, strict=False)
                for c in columns
                if a[c] != b[c] and not (isinstance(a[c], float) and b[c] is not None and abs(a[c] - b[c]) < 1e-9)
            ]
            agree = len(fly_rows) == len(sql_rows) and not mismatches and served_rows == fly_rows
            print(f"   report as served (rollups + rows): {report_s:.3f} s, {len(served_rows)} rows")
            print(f"   report on the fly (rows only)    : {fly_s:.3f} s, {len(fly_rows)} rows")
            print(f"   hand-written SQL                 : {sql_s:.3f} s, {len(sql_rows)} rows")
            print(f"   figures identical (all three)    : {'yes' if agree else 'NO: ' + str(mismatches[:5])}")

            print("== the service-development report and the department quarter report")
            development_s, development_rows = timed(
                lambda: (records(development_report(db.session, query)), db.session.rollback())[0], args.runs
            )
            department = db.session.scalar(select(Department).where(Department.code == QUARTER_DEPARTMENT))

            def quarter():
                result = quarter_report(
                    db.session, calendar, app.config, department, "2025-Q3", as_of, total_cost=4_500_000
                )
                db.session.rollback()
                return result

            quarter_s, quarter_result = timed(quarter, args.runs)
            repeats = sum(r["repeat_contacts"] for r in development_rows)
            print(
                f"   development, by service and month: {development_s:.3f} s, {len(development_rows)} rows, "
                f"{repeats:,} repeat contacts"
            )
            print(
                f"   quarter report ({QUARTER_DEPARTMENT}, 2025-Q3)  : {quarter_s:.3f} s, "
                f"{quarter_result['contacts']:,} contacts"
            )
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if not args.keep:
            drop_database(url)

    ratio = report_s / sql_s
    rss = peak_rss_mb()
    print("== summary")
    print(
        f"   contacts {args.contacts:,}; report {report_s:.3f} s vs SQL {sql_s:.3f} s → ratio {ratio:.2f}× "
        f"(bar ≤ 2×: {'met' if ratio <= 2 else 'MISSED'}; bar < 3 s: {'met' if report_s < 3 else 'MISSED'})"
    )
    print(
        f"   on the fly, without rollups: {fly_s:.3f} s = {fly_s / sql_s:.2f}× the SQL; "
        f"peak RSS {rss:.0f} MB (bar < 1024 MB: {'met' if rss < 1024 else 'MISSED'})"
    )
    print(
        f"   development report {development_s:.3f} s, quarter report {quarter_s:.3f} s "
        f"(bar each < 5 s: {'met' if max(development_s, quarter_s) < 5 else 'MISSED'})"
    )
    print(
        json.dumps(
            {
                "contacts": args.contacts,
                "report_s": round(report_s, 3),
                "sql_s": round(sql_s, 3),
                "ratio": round(ratio, 3),
                "peak_rss_mb": round(rss, 1),
                "report_on_the_fly_s": round(fly_s, 3),
                "ratio_on_the_fly": round(fly_s / sql_s, 3),
                "rollup_build_s": round(rollup_build_s, 2),
                "generate_s": round(generate_s, 1),
                "figures_identical": agree,
                "development_s": round(development_s, 3),
                "quarter_s": round(quarter_s, 3),
            }
        )
    )
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
