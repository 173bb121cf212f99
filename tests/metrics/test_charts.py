"""The report charts: read back from the SVG itself (target line, partial periods, comparison
series, accessible name and description, nothing fetched), and the periods they are drawn over."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from kontaktcenter.metrics.charts import COLOURS, Series, bar_chart, line_chart, trend_charts
from kontaktcenter.metrics.comparison import compare, last_year_range, previous_range
from kontaktcenter.metrics.engine import ReportQuery, records
from kontaktcenter.metrics.periods import is_partial, period_keys, period_label
from kontaktcenter.metrics.report import report
from kontaktcenter.worktime.calendar import WorkCalendar
from tests.fixtures.factories import at

SVG = "{http://www.w3.org/2000/svg}"
CAL = WorkCalendar()
AS_OF = "2026-06-01 12:00"  # after every period below: none is cut by the as-of time


@pytest.fixture
def ctx(app):
    with app.test_request_context("/reports"):
        yield


def parse(chart) -> ET.Element:
    return ET.fromstring(str(chart.svg))  # noqa: S314 - our own renderer's output


def groups(root: ET.Element, *classes: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if set(classes) <= set(g.get("class", "").split())]


def translate(element: ET.Element) -> tuple[float, float]:
    x, y = re.match(r"translate\(([-\d.e]+),([-\d.e]+)\)", element.get("transform")).groups()
    return float(x), float(y)


def axis_ticks(root: ET.Element, vertical: bool) -> dict[str, float]:
    """Each axis label's text → its tick's position (y for the value axis, x for the periods)."""
    for axis in groups(root, "role-axis"):
        ticks = [line for g in groups(axis, "role-axis-tick") for line in g.iter(f"{SVG}line")]
        if not ticks or (ticks[0].get("x2") == "-5") != vertical:
            continue
        labels = [t.text for g in groups(axis, "role-axis-label") for t in g.iter(f"{SVG}text")]
        origin = translate(axis.find(f"{SVG}g"))
        return {
            label.replace("\u00a0", " "): translate(tick)[1 if vertical else 0] + origin[1 if vertical else 0]
            for label, tick in zip(labels, ticks, strict=True)
        }
    raise AssertionError("no such axis")


def value_at(root: ET.Element, y: float) -> float:
    """A y position in the plot → the rate there, read off the 0 % and 100 % ticks."""
    ticks = axis_ticks(root, vertical=True)
    return (ticks["0 %"] - y) / (ticks["0 %"] - ticks["100 %"])


def line_points(root: ET.Element, colour: str) -> list[tuple[float, float]]:
    (path,) = [
        p for g in groups(root, "mark-line", "role-mark") for p in g.iter(f"{SVG}path") if p.get("stroke") == colour
    ]
    return [(float(x), float(y)) for x, y in re.findall(r"[ML]([-\d.]+),([-\d.]+)", path.get("d"))]


def test_the_target_is_a_rule_at_its_value_with_a_label(ctx):
    chart = line_chart(
        "sl",
        "Servicenivå per vecka",
        ["v. 10 2026", "v. 11 2026"],
        [Series("denna period", [0.5, 0.9])],
        percent=True,
        target=0.8,
    )
    root = parse(chart)
    (rule,) = [line for g in groups(root, "mark-rule", "role-mark") for line in g.iter(f"{SVG}line")]
    ticks = axis_ticks(root, vertical=True)
    assert list(ticks) == ["0 %", "20 %", "40 %", "60 %", "80 %", "100 %"]  # rates in steps of 20 %
    assert translate(rule)[1] == pytest.approx(ticks["80 %"], abs=1)
    assert value_at(root, translate(rule)[1]) == pytest.approx(0.8, abs=0.005)
    assert "Mål 80\u00a0%" in [t.text for t in root.iter(f"{SVG}text")]
    assert "Mål: 80,0\u00a0%." in chart.description


def test_partial_periods_are_hollow_points_and_are_named(ctx):
    labels = ["v. 9 2026", "v. 10 2026", "v. 11 2026", "v. 12 2026"]
    chart = line_chart(
        "sl",
        "Servicenivå",
        labels,
        [Series("denna period", [0.2, 0.7, 0.75, 0.1], [True, False, False, True])],
        percent=True,
    )
    root = parse(chart)
    symbols = [p for g in groups(root, "mark-symbol", "role-mark") for p in g.iter(f"{SVG}path")]
    hollow = [translate(p)[0] for p in symbols if p.get("fill") == "white"]
    filled = [translate(p)[0] for p in symbols if p.get("fill") == COLOURS[0]]
    x = axis_ticks(root, vertical=False)
    assert hollow == pytest.approx([x["v. 9 2026"], x["v. 12 2026"]], abs=1)
    assert filled == pytest.approx([x["v. 10 2026"], x["v. 11 2026"]], abs=1)
    assert "Ofylld punkt: ofullständig period" in [t.text for t in root.iter(f"{SVG}text")]
    assert "ofullständig period (v. 9 2026, v. 12 2026)" in chart.description
    assert "Senaste värdet (v. 12 2026): 10,0\u00a0%." in chart.description


def test_the_chart_is_one_image_with_a_name_and_a_description_and_fetches_nothing(ctx):
    chart = bar_chart("hour", "Kontakter per timme", [f"{h:02d}" for h in range(24)], [h * 130 for h in range(24)])
    root = parse(chart)
    assert root.get("role") == "img"
    assert root.get("aria-describedby") == "hour-desc"
    (title,) = [t for t in root.iter(f"{SVG}title") if t.get("id") == root.get("aria-labelledby")]
    assert title.text == "Kontakter per timme"
    assert root.get("viewBox")
    assert root.get("width") is None  # scales with its column
    assert "Flest: 23 (2\u00a0990)." in chart.description
    # Vega's per-mark ARIA is dropped: inside one image it would be read as nothing or twice.
    assert all(not any(k == "role" or k.startswith("aria-") for k in e.attrib) for e in root.iter() if e is not root)
    # Nothing to fetch (no link, image, font or stylesheet) and no style attribute (CSP style-src 'self').
    assert not re.search(r"<image|<use|<style|<script|<foreignObject|@import|@font-face", str(chart.svg))
    for element in root.iter():
        for name, value in element.attrib.items():
            assert "href" not in name, (name, value)
            assert name != "style", (name, value)
            assert "http" not in value, (name, value)
            assert not re.search(r"url\((?!#)", value), (name, value)
    # Counts in round steps (here 500s), written the Swedish way.
    ticks = list(axis_ticks(root, vertical=True))
    assert ticks == ["0", "500", "1 000", "1 500", "2 000", "2 500", "3 000"]


def test_a_long_range_shows_fewer_period_labels_and_turns_them(ctx):
    labels = [period_label(k, "day", "sv") for k in period_keys(date(2026, 3, 1), date(2026, 4, 30), "day")]
    root = parse(line_chart("d", "Per dag", labels, [Series("Samtal", list(range(61)))]))
    shown = [t for g in groups(root, "role-axis-label") for t in g.iter(f"{SVG}text") if "rotate" in t.get("transform")]
    assert [t.text for t in shown] == labels[::6]  # 11 of the 61 days, "1 mars" to "30 april"


def test_period_keys_labels_and_partial_periods(app):
    with app.test_request_context("/reports"):
        assert period_keys(date(2026, 12, 24), date(2027, 1, 5), "week") == ["2026-W52", "2026-W53", "2027-W01"]
        assert period_keys(date(2025, 12, 31), date(2026, 2, 1), "month") == ["2025-12", "2026-01", "2026-02"]
        assert period_label("2026-W09", "week", "sv") == "v. 9 2026"
        assert period_label("2026-03", "month", "sv") == "mars 2026"
        assert period_label("2026-03-03", "day", "sv") == "3 mars"
        assert period_label("2026-03", "month", "en") == "March 2026"
    # Cut by the chosen dates (a week from Wednesday) or not over on the as-of day.
    assert is_partial("2026-W10", "week", date(2026, 3, 4), date(2026, 3, 31), date(2026, 6, 1))
    assert not is_partial("2026-W11", "week", date(2026, 3, 4), date(2026, 3, 31), date(2026, 6, 1))
    assert is_partial("2026-W14", "week", date(2026, 3, 4), date(2026, 3, 31), date(2026, 6, 1))  # ends Sunday 5 April
    assert is_partial("2026-05", "month", date(2026, 5, 1), date(2026, 5, 31), date(2026, 5, 20))  # not over yet
    assert not is_partial("2026-04", "month", date(2026, 4, 1), date(2026, 4, 30), date(2026, 5, 1))


def test_the_shifted_ranges_are_whole_periods_earlier():
    assert previous_range(date(2026, 3, 2), date(2026, 3, 15), "week") == (date(2026, 2, 16), date(2026, 3, 1))
    assert last_year_range(date(2026, 3, 2), date(2026, 3, 15), "week") == (date(2025, 3, 3), date(2025, 3, 16))
    assert previous_range(date(2026, 3, 1), date(2026, 3, 31), "month") == (date(2026, 2, 1), date(2026, 2, 28))
    assert last_year_range(date(2024, 2, 1), date(2024, 2, 29), "month") == (date(2023, 2, 1), date(2023, 2, 28))
    assert previous_range(date(2026, 3, 2), date(2026, 3, 6), "day") == (date(2026, 2, 25), date(2026, 3, 1))


@pytest.fixture
def three_periods(session, phone_call):
    """Calls in weeks 10–11 of 2026, the two weeks before, and weeks 10–11 of 2025 (answer target 60 s)."""
    for day, waits in {
        "2026-03-03": [10, 10, 90],  # W10: service level 2/3
        "2026-03-10": [10],  # W11: 1/1
        "2026-02-17": [90, 90, 10, 10],  # W08: 2/4
        "2026-02-24": [90],  # W09: 0/1
        "2025-03-04": [10, 90, 90, 90, 90],  # W10 2025: 1/5
        # W11 2025 has no calls: a gap, not a zero
    }.items():
        for i, wait in enumerate(waits):
            phone_call(f"{day} 09:{i:02d}", "answered", wait=wait, talk=60)
    session.commit()


def test_the_comparison_is_the_report_for_the_shifted_ranges_drawn_as_lines(app, session, three_periods):
    query = ReportQuery(date(2026, 3, 2), date(2026, 3, 15), by=("period",), period="week", as_of=at(AS_OF))
    comparison = compare(session, query, CAL, 5)
    for which, (start, end) in {
        "previous": (date(2026, 2, 16), date(2026, 3, 1)),
        "last_year": (date(2025, 3, 3), date(2025, 3, 16)),
    }.items():
        shifted = ReportQuery(start, end, by=("period",), period="week", as_of=at(AS_OF))
        expected = {r["period"]: r for r in records(report(session, shifted, CAL, 5))}
        got = getattr(comparison, which)
        assert (got.start, got.end) == (start, end)
        for key, row in zip(got.keys, comparison.aligned(which), strict=True):
            assert row["service_level"] == (expected[key]["service_level"] if key in expected else None)
    assert [r["service_level"] for r in comparison.current.rows] == [0.6667, 1.0]
    assert [r["service_level"] for r in comparison.aligned("previous")] == [0.5, 0.0]
    assert [r["service_level"] for r in comparison.aligned("last_year")] == [0.2, None]

    with app.test_request_context("/reports"):
        context = trend_charts(comparison, "week", date(2026, 6, 1), "sv")
    (service_level,) = [c for c in context["compared_charts"] if c["figure"] == "service_level"]
    root = parse(service_level["chart"])
    legend = [t.text for g in groups(root, "role-legend-label") for t in g.iter(f"{SVG}text")]
    assert legend == ["denna period", "föregående period", "samma period i fjol"]
    x = axis_ticks(root, vertical=False)
    for colour, values in zip(COLOURS, ([0.6667, 1.0], [0.5, 0.0], [0.2]), strict=True):
        points = line_points(root, colour)
        assert [value_at(root, y) for _x, y in points] == pytest.approx(values, abs=0.006)
        assert [px for px, _y in points] == pytest.approx([x["v. 10 2026"], x["v. 11 2026"]][: len(values)], abs=1)
    # The data table beside it: the same numbers, one column per series.
    assert service_level["series"] == legend
    assert service_level["rows"] == [("v. 10 2026", [0.6667, 0.5, 0.2]), ("v. 11 2026", [1.0, 0.0, None])]
