"""The Swedish calendar: working days, the one-working-day deadline, working time, opening hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kontaktcenter.defaults import defaults
from kontaktcenter.worktime import WorkCalendar, calendar_from_config, current_calendar
from tests.fixtures.factories import at

STOCKHOLM = ZoneInfo("Europe/Stockholm")
cal = WorkCalendar()


def local(dt: datetime) -> str:
    return dt.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


# -- working days ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "why"),
    [
        ("2026-01-01", "nyårsdagen"),
        ("2026-01-06", "trettondedag jul"),
        ("2026-04-03", "långfredagen"),
        ("2026-04-06", "annandag påsk"),
        ("2026-05-01", "första maj"),
        ("2026-05-14", "Kristi himmelsfärds dag"),
        ("2026-06-19", "midsommarafton (de facto)"),
        ("2026-12-24", "julafton (de facto)"),
        ("2026-12-25", "juldagen"),
        ("2026-12-31", "nyårsafton (de facto)"),
        ("2027-12-24", "julafton on a Friday"),
        ("2026-03-07", "a Saturday"),
        ("2026-03-08", "a Sunday"),
    ],
)
def test_holidays_eves_and_weekends_are_not_working_days(day, why):
    assert not cal.is_working_day(date.fromisoformat(day)), why


@pytest.mark.parametrize("day", ["2026-04-02", "2026-04-07", "2026-05-13", "2026-06-18", "2026-12-23", "2026-12-30"])
def test_days_around_holidays_are_working_days(day):
    assert cal.is_working_day(date.fromisoformat(day))


def test_national_day_on_a_weekday_is_not_a_working_day():
    # 6 June 2025 is a Friday; in 2026 it falls on a Saturday.
    assert not cal.is_working_day(date(2025, 6, 6))


def test_configured_closing_day_is_not_a_working_day():
    klamdag = date(2026, 5, 15)  # the Friday after Ascension Day
    assert cal.is_working_day(klamdag)
    assert not WorkCalendar(closing_days=[klamdag]).is_working_day(klamdag)


def test_next_working_day_skips_easter():
    assert cal.next_working_day(date(2026, 4, 2)) == date(2026, 4, 7)


def test_next_working_day_is_strictly_after():
    assert cal.next_working_day(date(2026, 3, 2)) == date(2026, 3, 3)


# -- the one-working-day deadline (METRICS.md's examples first) --------------------


@pytest.mark.parametrize(
    ("arrived", "deadline"),
    [
        ("2026-03-06 15:00", "2026-03-09 15:00"),  # Friday → Monday
        ("2026-03-07 10:00", "2026-03-10 00:00"),  # Saturday → Tuesday 00:00
        ("2026-04-02 15:00", "2026-04-07 15:00"),  # Maundy Thursday → Tuesday after Easter Monday
        ("2026-05-13 11:00", "2026-05-15 11:00"),  # the day before Ascension Day
        ("2026-06-18 12:00", "2026-06-22 12:00"),  # the day before midsommarafton
        ("2026-12-23 09:00", "2026-12-28 09:00"),  # before julafton, juldagen, annandag jul (a weekend)
        ("2026-12-30 16:00", "2027-01-04 16:00"),  # before nyårsafton and nyårsdagen
        ("2026-12-31 10:00", "2027-01-05 00:00"),  # on nyårsafton: treated as 00:00 on 4 January
    ],
)
def test_one_working_day_deadline(arrived, deadline):
    assert local(cal.one_working_day_deadline(at(arrived))) == deadline


def test_deadline_of_ascension_day_arrival_counts_from_the_friday():
    # Thursday 14 May is a holiday: treated as Friday 15 May 00:00, due Monday 18 May 00:00.
    assert local(cal.one_working_day_deadline(at("2026-05-14 09:00"))) == "2026-05-18 00:00"


def test_deadline_keeps_local_clock_across_the_spring_dst_change():
    # Clocks go forward on Sunday 29 March 2026: Friday 15:00 CET → Monday 15:00 CEST.
    due = cal.one_working_day_deadline(at("2026-03-27 15:00"))
    assert local(due) == "2026-03-30 15:00"
    assert due - at("2026-03-27 15:00") == timedelta(days=3, hours=-1)


def test_deadline_keeps_local_clock_across_the_autumn_dst_change():
    due = cal.one_working_day_deadline(at("2026-10-23 15:00"))
    assert local(due) == "2026-10-26 15:00"
    assert due - at("2026-10-23 15:00") == timedelta(days=3, hours=1)


def test_deadline_is_aware_utc():
    due = cal.one_working_day_deadline(at("2026-03-02 15:00"))
    assert due.tzinfo is not None
    assert due.utcoffset() == timedelta(0)


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.one_working_day_deadline(datetime(2026, 3, 2, 15, 0))


def test_add_working_days_counts_working_days_only():
    assert local(cal.add_working_days(at("2026-04-01 10:00"), 3)) == "2026-04-08 10:00"
    assert cal.add_working_days(at("2026-03-02 10:00"), 1) == cal.one_working_day_deadline(at("2026-03-02 10:00"))


# -- working time -----------------------------------------------------------------


def test_working_time_over_a_weekend_counts_only_friday_and_monday():
    assert cal.working_time_between(at("2026-03-06 15:00"), at("2026-03-09 15:00")) == timedelta(days=1)


def test_working_time_over_easter_counts_nothing_from_friday_to_monday():
    assert cal.working_time_between(at("2026-04-03 00:00"), at("2026-04-07 00:00")) == timedelta(0)


def test_working_time_is_negative_when_reversed():
    assert cal.working_time_between(at("2026-03-09 15:00"), at("2026-03-06 15:00")) == -timedelta(days=1)


def test_add_working_time_pauses_over_midsommar():
    assert local(cal.add_working_time(at("2026-06-18 20:00"), timedelta(hours=8))) == "2026-06-22 04:00"


working_moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(start=working_moments, hours=st.integers(min_value=0, max_value=24 * 30))
def test_add_working_time_is_the_inverse_of_working_time_between(start, hours):
    delta = timedelta(hours=hours)
    end = cal.add_working_time(start, delta)
    assert cal.working_time_between(start, end) == delta


@settings(max_examples=200, deadline=None)
@given(start=working_moments)
def test_deadline_lies_on_a_working_day_after_arrival(start):
    due = cal.one_working_day_deadline(start)
    assert due > start
    assert cal.is_working_day(cal.local_date(due))
    # Exactly one working day of working time passes (24 h of working days).
    assert cal.working_time_between(start, due) == timedelta(days=1)


# -- opening hours ----------------------------------------------------------------

HOURS = {
    "default": {"open": "08:00", "close": "17:00", "eve_close": "13:00"},
    "kc-aterringning": {"open": "07:00", "close": "20:00"},
    "sbk-bygglov": {"closed": True},
}


def test_opening_hours_on_an_ordinary_day():
    c = WorkCalendar(opening_hours=HOURS)
    assert c.opening_hours("kc-forsta-linjen", date(2026, 3, 2)) == (time(8), time(17))


@pytest.mark.parametrize("eve", ["2026-04-02", "2026-05-13", "2026-12-23", "2026-12-30", "2026-04-30", "2026-01-05"])
def test_eves_close_early(eve):
    c = WorkCalendar(opening_hours=HOURS)
    assert c.opening_hours("kc-forsta-linjen", date.fromisoformat(eve)) == (time(8), time(13))


def test_queue_without_eve_hours_keeps_its_hours_on_eves():
    c = WorkCalendar(opening_hours=HOURS)
    assert c.opening_hours("kc-aterringning", date(2026, 4, 2)) == (time(7), time(20))


def test_closed_on_non_working_days_and_for_closed_queues():
    c = WorkCalendar(opening_hours=HOURS)
    assert c.opening_hours("kc-forsta-linjen", date(2026, 6, 19)) is None
    assert c.opening_hours("kc-forsta-linjen", date(2026, 3, 7)) is None
    assert c.opening_hours("sbk-bygglov", date(2026, 3, 2)) is None


def test_is_open_uses_local_time():
    c = WorkCalendar(opening_hours=HOURS)
    assert c.is_open("kc-forsta-linjen", at("2026-03-02 08:00"))
    assert c.is_open("kc-forsta-linjen", at("2026-03-02 16:59"))
    assert not c.is_open("kc-forsta-linjen", at("2026-03-02 17:00"))
    assert not c.is_open("kc-forsta-linjen", at("2026-03-02 07:59"))
    assert not c.is_open("kc-forsta-linjen", at("2026-04-02 14:00"))  # Maundy Thursday: closes 13:00


def test_next_opening_after_hours_is_the_next_working_morning():
    c = WorkCalendar(opening_hours=HOURS)
    assert local(c.next_opening("kc-forsta-linjen", at("2026-04-02 14:00"))) == "2026-04-07 08:00"
    assert c.next_opening("kc-forsta-linjen", at("2026-03-02 09:00")) == at("2026-03-02 09:00")


def test_bad_opening_hours_are_refused_with_the_key():
    with pytest.raises(ValueError, match="opening_hours.kc-x: close must be later than open"):
        WorkCalendar(opening_hours={"kc-x": {"open": "17:00", "close": "08:00"}})
    with pytest.raises(ValueError, match="not a time of day"):
        WorkCalendar(opening_hours={"kc-x": {"open": "8", "close": "17:00"}})


def test_calendar_from_config_reads_closing_days_and_hours():
    c = calendar_from_config(
        {
            **defaults(),
            "calendar": {"closing_days": ["2026-05-15"], "department_closing_days": {}},
            "opening_hours": HOURS,
        }
    )
    assert not c.is_working_day(date(2026, 5, 15))
    assert c.opening_hours("kc-aterringning", date(2026, 3, 2)) == (time(7), time(20))


def test_current_calendar_is_built_from_the_app_config_once(app):
    with app.app_context():
        first = current_calendar()
        assert first is current_calendar()
        assert first.opening_hours("kc-forsta-linjen", date(2026, 3, 2)) == (time(8), time(17))


def test_opening_hours_follow_local_time_across_the_dst_changes():
    c = WorkCalendar(opening_hours=HOURS)
    utc = lambda text: datetime.fromisoformat(text).replace(tzinfo=UTC)  # noqa: E731
    # Friday 27 March (CET, UTC+1) and Monday 30 March (CEST, UTC+2): open at 08:00 local both days.
    assert not c.is_open("kc-forsta-linjen", utc("2026-03-27 06:30"))  # 07:30 CET
    assert c.is_open("kc-forsta-linjen", utc("2026-03-27 07:00"))  # 08:00 CET
    assert c.is_open("kc-forsta-linjen", utc("2026-03-30 06:00"))  # 08:00 CEST
    assert not c.is_open("kc-forsta-linjen", utc("2026-03-30 15:00"))  # 17:00 CEST
    assert local(c.next_opening("kc-forsta-linjen", utc("2026-10-23 16:00"))) == "2026-10-26 08:00"
    assert c.next_opening("kc-forsta-linjen", utc("2026-10-23 16:00")) == utc("2026-10-26 07:00")  # CET again


def test_working_time_over_the_dst_weekends_counts_working_days_only():
    # The 23- and 25-hour Sundays are not working days: Friday and Monday count 24 h each.
    assert cal.working_time_between(at("2026-03-27 00:00"), at("2026-03-31 00:00")) == timedelta(days=2)
    assert cal.working_time_between(at("2026-10-23 00:00"), at("2026-10-27 00:00")) == timedelta(days=2)
    assert local(cal.add_working_time(at("2026-10-23 20:00"), timedelta(hours=8))) == "2026-10-26 04:00"


@pytest.mark.parametrize(
    ("day", "name"),
    [
        ("2026-04-03", "Good Friday"),
        ("2026-04-05", "Easter Sunday"),
        ("2026-04-06", "Easter Monday"),
        ("2026-05-14", "Ascension Day"),
        ("2026-06-19", "Midsummer Eve"),
        ("2026-12-24", "Christmas Eve"),
        ("2026-12-31", "New Year's Eve"),
        ("2027-03-26", "Good Friday"),  # Easter moves: 2027's is in March
        ("2027-05-06", "Ascension Day"),
        ("2027-06-25", "Midsummer Eve"),
    ],
)
def test_the_pinned_holidays_package_knows_the_moving_and_de_facto_holidays(day, name):
    d = date.fromisoformat(day)
    assert name in cal.holidays_of(d.year)[d]
    assert not cal.is_working_day(d)


def test_the_eve_of_midsommarafton_closes_early_and_the_day_after_ascension_does_not():
    c = WorkCalendar(opening_hours=HOURS)
    assert c.opening_hours("kc-forsta-linjen", date(2026, 6, 18)) == (time(8), time(13))
    assert c.opening_hours("kc-forsta-linjen", date(2026, 5, 15)) == (time(8), time(17))


# -- a department's own closing days (klämdagar) ---------------------------------------------

# Friday 15 May 2026, after Ascension Thursday, is a klämdag for Kulturförvaltningen only.
KLAM = WorkCalendar(opening_hours=HOURS, department_closing_days={"kultur": ["2026-05-15"]})


def test_a_department_klamdag_is_off_for_that_department_only():
    friday = date(2026, 5, 15)
    assert KLAM.is_working_day(friday)  # the city's calendar: an ordinary Friday
    assert KLAM.is_working_day(friday, "sbk")  # a department without klämdagar of its own
    assert not KLAM.is_working_day(friday, "kultur")
    assert KLAM.next_working_day(date(2026, 5, 13)) == friday
    assert KLAM.next_working_day(date(2026, 5, 13), "kultur") == date(2026, 5, 18)
    assert KLAM.working_day_on_or_after(friday, "kultur") == date(2026, 5, 18)


def test_a_department_klamdag_moves_its_deadlines_and_working_time():
    wednesday_10 = at("2026-05-13 10:00")
    # Thursday is Ascension Day: the city's deadline is Friday, kultur's the Monday after.
    assert local(KLAM.one_working_day_deadline(wednesday_10)) == "2026-05-15 10:00"
    assert local(KLAM.one_working_day_deadline(wednesday_10, "sbk")) == "2026-05-15 10:00"
    assert local(KLAM.one_working_day_deadline(wednesday_10, "kultur")) == "2026-05-18 10:00"
    assert local(KLAM.add_working_days(wednesday_10, 2, "kultur")) == "2026-05-19 10:00"
    # Arriving on the klämdag counts from 00:00 of the next working day.
    assert local(KLAM.one_working_day_deadline(at("2026-05-15 10:00"))) == "2026-05-18 10:00"
    assert local(KLAM.one_working_day_deadline(at("2026-05-15 10:00"), "kultur")) == "2026-05-19 00:00"
    # Friday 0–24 is working time for the city only.
    assert KLAM.working_time_between(at("2026-05-15 00:00"), at("2026-05-18 00:00")) == timedelta(hours=24)
    assert KLAM.working_time_between(at("2026-05-15 00:00"), at("2026-05-18 00:00"), "kultur") == timedelta(0)
    assert KLAM.working_time_between(at("2026-05-18 00:00"), at("2026-05-15 00:00"), "kultur") == timedelta(0)
    # Two working hours from Wednesday 23:00: one that evening, one after the days off.
    assert local(KLAM.add_working_time(at("2026-05-13 23:00"), timedelta(hours=2))) == "2026-05-15 01:00"
    assert local(KLAM.add_working_time(at("2026-05-13 23:00"), timedelta(hours=2), "kultur")) == "2026-05-18 01:00"


def test_a_department_klamdag_closes_its_opening_hours():
    friday_10 = at("2026-05-15 10:00")
    assert KLAM.is_open("kc-forsta-linjen", friday_10)
    assert not KLAM.is_open("kc-forsta-linjen", friday_10, "kultur")
    assert KLAM.opening_hours("kc-forsta-linjen", date(2026, 5, 15), "kultur") is None
    assert local(KLAM.next_opening("kc-forsta-linjen", friday_10, department="kultur")) == "2026-05-18 08:00"
    # Wednesday is still the eve of Ascension Day for everyone.
    assert KLAM.is_eve(date(2026, 5, 13), "kultur")
    assert KLAM.opening_hours("kc-forsta-linjen", date(2026, 5, 13), "kultur") == (time(8), time(13))


def test_the_citys_closing_days_apply_to_every_department_too():
    c = WorkCalendar(closing_days=["2026-05-15"], department_closing_days={"kultur": ["2026-12-28"]})
    assert not c.is_working_day(date(2026, 5, 15), "kultur")
    assert not c.is_working_day(date(2026, 5, 15), "sbk")
    assert not c.is_working_day(date(2026, 12, 28), "kultur")
    assert c.is_working_day(date(2026, 12, 28), "sbk")
    assert c.closing_days_for("kultur") == {date(2026, 5, 15), date(2026, 12, 28)}


def test_calendar_from_config_reads_department_closing_days():
    c = calendar_from_config(
        {**defaults(), "calendar": {"closing_days": [], "department_closing_days": {"kultur": ["2026-05-15"]}}}
    )
    assert not c.is_working_day(date(2026, 5, 15), "kultur")
    assert c.is_working_day(date(2026, 5, 15))
    # TOML dates (unquoted) are read as dates too.
    assert not calendar_from_config(
        {**defaults(), "calendar": {"closing_days": [], "department_closing_days": {"kultur": [date(2026, 5, 15)]}}}
    ).is_working_day(date(2026, 5, 15), "kultur")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"kultur": ["15/5/2026"]},
            r"calendar\.department_closing_days\.kultur: '15/5/2026' is not a date \(write it as YYYY-MM-DD\)",
        ),
        ({"kultur": ["2026-02-30"]}, r"calendar\.department_closing_days\.kultur: '2026-02-30' is not a date"),
        ({"kultur": "2026-05-15"}, r"calendar\.department_closing_days\.kultur must be a list of dates"),
        (["2026-05-15"], r"calendar\.department_closing_days must map department codes to lists of dates"),
    ],
)
def test_a_mistyped_department_closing_day_is_refused_naming_the_key(section, message):
    with pytest.raises(ValueError, match=message):
        calendar_from_config({**defaults(), "calendar": {"closing_days": [], "department_closing_days": section}})


def test_a_config_file_with_a_mistyped_department_closing_day_refuses_to_load(tmp_path):
    from kontaktcenter.config import ConfigError, load_config

    site = tmp_path / "site.toml"
    site.write_text('[calendar]\nclosing_days = []\n[calendar.department_closing_days]\nkultur = ["2026-5-15x"]\n')
    with pytest.raises(ConfigError, match=r"calendar\.department_closing_days\.kultur: '2026-5-15x' is not a date"):
        load_config({"KONTAKTCENTER_CONFIG": str(site)})
    site.write_text("[calendar]\nclosing_days = []\n[calendar.department_closing_days]\nkultur = [2026-05-15]\n")
    config = load_config({"KONTAKTCENTER_CONFIG": str(site)})
    assert not calendar_from_config(config).is_working_day(date(2026, 5, 15), "kultur")


def test_the_shipped_production_example_configures_department_closing_days():
    import tomllib

    from kontaktcenter.config import PROJECT_ROOT

    with (PROJECT_ROOT / "config" / "production.example.toml").open("rb") as fh:
        example = tomllib.load(fh)
    c = calendar_from_config({**defaults(), **example})
    assert not c.is_working_day(date(2027, 12, 27), "kultur")
    assert c.is_working_day(date(2027, 12, 27), "sbk")
