"""`kontaktcenter report`: the same figures on the command line, in every format."""

from __future__ import annotations

import csv
import io
import json

from openpyxl import load_workbook

from kontaktcenter.metrics.engine import FIGURE_NAMES


def test_report_csv_to_stdout(runner, phone_call):
    phone_call("2026-03-02 09:00", "answered", wait=30, talk=200, service="bygglov")
    phone_call("2026-03-02 09:10", "abandoned", wait=2, service="bygglov")
    result = runner.invoke(
        args=["report", "--from", "2026-03-01", "--to", "2026-03-31", "--by", "service,period:month"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["service", "period", *FIGURE_NAMES]
    row = next(r for r in rows if r["service"] == "bygglov")
    assert (row["period"], row["phone_queued"], row["phone_short_abandoned"], row["answer_rate"]) == (
        "2026-03",
        "2",
        "1",
        "1.0000",
    )


def test_report_json_and_xlsx_files_with_progress(runner, phone_call, tmp_path):
    phone_call("2026-03-02 09:00", "answered", wait=30, talk=200, service="bygglov")
    out = tmp_path / "r.json"
    result = runner.invoke(
        args=[
            "report",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--by",
            "channel",
            "--format",
            "json",
            "-o",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["columns"] == ["channel", *FIGURE_NAMES]
    phone = next(r for r in data["rows"] if r["channel"] == "phone")
    assert phone["asa_seconds"] == 30.0
    assert phone["response_within_1wd_rate"] is None
    xlsx = tmp_path / "r.xlsx"
    assert (
        runner.invoke(
            args=["report", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "xlsx", "-o", str(xlsx)]
        ).exit_code
        == 0
    )
    sheet = load_workbook(xlsx).active
    assert [c.value for c in sheet[1]] == FIGURE_NAMES


def test_report_refuses_bad_input_with_exit_1_or_2_and_a_message(runner):
    bad_by = runner.invoke(args=["report", "--from", "2026-03-01", "--to", "2026-03-31", "--by", "colour"])
    assert bad_by.exit_code != 0
    assert "Okänd gruppering 'colour'" in bad_by.output
    bad_date = runner.invoke(args=["report", "--from", "2026-02-30", "--to", "2026-03-31"])
    assert bad_date.exit_code != 0
    assert "är inget datum" in bad_date.output
    reversed_ = runner.invoke(args=["report", "--from", "2026-03-31", "--to", "2026-03-01"])
    assert "Från-datumet ligger efter till-datumet." in reversed_.output


def test_report_to_a_file_shows_a_progress_bar_on_stderr(runner, phone_call, tmp_path):
    phone_call("2026-03-02 09:00", "answered", wait=30, talk=200, service="bygglov")
    out = tmp_path / "r.csv"
    result = runner.invoke(
        args=["report", "--from", "2026-03-01", "--to", "2026-03-31", "--by", "service,period:day", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    # Not a terminal here, so click prints the bar's label only; the file and the summary follow.
    assert result.stderr.startswith("report")
    assert "1 rows →" in result.stderr
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8").splitlines()[0].startswith("service,period,phone_queued,")


def test_every_query_of_a_report_ticks_the_progress(session, phone_call):
    from datetime import date

    from kontaktcenter.metrics.engine import REPORT_QUERIES, ReportQuery, query_progress
    from kontaktcenter.metrics.report import report
    from kontaktcenter.worktime.calendar import WorkCalendar

    phone_call("2026-03-02 09:00", "answered", wait=30, talk=200, service="bygglov")
    ticks = []
    with query_progress(lambda: ticks.append(1)):
        report(
            session,
            ReportQuery(date(2026, 3, 1), date(2026, 3, 31), by=("service",)),
            WorkCalendar(),
            5,
            use_rollups=False,
        )
    report(session, ReportQuery(date(2026, 3, 1), date(2026, 3, 31)), WorkCalendar(), 5, use_rollups=False)
    assert 2 == len(ticks) <= REPORT_QUERIES  # contacts and tickets; nothing ticks outside the block


def _json_report(runner, tmp_path, *extra: str) -> dict:
    out = tmp_path / "as_of.json"
    args = ["report", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "json", "-o", str(out), *extra]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text(encoding="utf-8"))


def test_as_of_decides_written_due_and_is_recorded(runner, written, tmp_path):
    written("2026-03-02 15:00", None)  # Monday 15:00: due Tuesday 15:00
    before = _json_report(runner, tmp_path, "--as-of", "2026-03-03T14:00")
    after = _json_report(runner, tmp_path, "--as-of", "2026-03-03T16:00+01:00")
    assert (before["rows"][0]["written_due"], after["rows"][0]["written_due"]) == (0, 1)
    # Without an offset the time is Stockholm's; recorded with its offset.
    assert before["as_of"] == "2026-03-03T14:00:00+01:00"
    assert after["as_of"] == "2026-03-03T16:00:00+01:00"
    xlsx = tmp_path / "as_of.xlsx"
    args = ["report", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "xlsx", "-o", str(xlsx)]
    assert runner.invoke(args=[*args, "--as-of", "2026-03-03T14:00"]).exit_code == 0
    book = load_workbook(xlsx)
    assert book.active.title == "tillganglighet"
    about = {key: value for key, value in book["rapport"].iter_rows(values_only=True)}
    assert about["as_of"] == "2026-03-03T14:00:00+01:00"
    assert (about["from"], about["to"]) == ("2026-03-01", "2026-03-31")


def test_as_of_defaults_to_now_and_bad_input_names_the_format(runner, tmp_path):
    from datetime import UTC, datetime

    data = _json_report(runner, tmp_path)
    assert abs((datetime.fromisoformat(data["as_of"]) - datetime.now(UTC)).total_seconds()) < 60
    bad = runner.invoke(args=["report", "--from", "2026-03-01", "--to", "2026-03-31", "--as-of", "igår"])
    assert bad.exit_code == 2
    assert "'igår' är ingen tidpunkt; skriv ISO 8601, t.ex. 2026-03-31T17:00" in bad.output


def test_report_csv_for_people_on_the_command_line(runner, phone_call):
    phone_call("2026-03-02 09:00", "answered", wait=30, talk=200, service="bygglov")
    result = runner.invoke(
        args=["report", "--from", "2026-03-01", "--to", "2026-03-31", "--by", "channel", "--format", "csv-sv"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Kanal", "Samtal i kö", "Korta avbrott"]
    phone = dict(zip(rows[0], next(r for r in rows[1:] if r[0] == "Telefon"), strict=True))
    assert phone["Medelväntetid (s)"] == "30,0"
