"""Charts drawn with Altair (Vega-Lite) and rendered to static SVG on the server by vl-convert.

The SVG is inlined in the page: no script, no font or URL fetched, readable with JavaScript
off and in print. Each chart is an image with a name and a short description (the latest
value and the target); the page keeps a data table with the same numbers beside it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from html import escape
from typing import Any

import altair as alt
import vl_convert
from flask_babel import gettext as _
from markupsafe import Markup

from .comparison import Comparison
from .labels import FIGURE_LABELS
from .periods import is_partial, period_label
from .targets import report_targets

WIDTH, HEIGHT = 540, 200  # the plot; axes, legend and title add about 100 px each way
# Colours with at least 3:1 contrast against white (WCAG 1.4.11), told apart by dash too.
COLOURS = ["#004a8f", "#b04a00", "#1e6b2f"]
DASHES = [[1, 0], [6, 4], [2, 3]]
TEXT = "#1a1a1a"
MAX_X_LABELS = 12

# d3-format's sv-SE has "80%"; Swedish writes a (no-break) space before the sign.
FORMAT_LOCALES: dict[str, dict[str, Any]] = {
    "sv": {"decimal": ",", "thousands": "\u00a0", "grouping": [3], "currency": ["", "\u00a0kr"], "percent": "\u00a0%"},
    "en": {"decimal": ".", "thousands": ",", "grouping": [3], "currency": ["", " kr"]},
}


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    partial: Sequence[bool] = field(default_factory=tuple)  # per value: a period cut by the dates or not over


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str  # shown as the figure's caption, the SVG's aria-describedby
    svg: Markup


def number(value: float | None, *, percent: bool, locale: str, short: bool = False) -> str:
    """A value as the charts write it: "80,0 %" or "1 234" in Swedish; short: "80 %" for a whole percent."""
    if value is None:
        return "–"
    if percent:
        text = f"{value * 100:.1f}"
        if short and text.endswith(".0"):
            text = text[:-2]
        return (text.replace(".", ",") + "\u00a0%") if locale == "sv" else text + "%"
    text = f"{value:,.0f}"
    return text.replace(",", "\u00a0") if locale == "sv" else text


def _config() -> dict[str, Any]:
    axis = {
        "labelFontSize": 12,
        "titleFontSize": 12,
        "labelColor": TEXT,
        "titleColor": TEXT,
        "domainColor": "#595959",
        "tickColor": "#595959",
        "gridColor": "#d9d9d9",
    }
    return {
        "font": "sans-serif",  # the reader's own font: nothing to fetch
        "axis": axis,
        "legend": {
            "labelFontSize": 12,
            "labelColor": TEXT,
            "orient": "bottom",
            "title": None,
            "symbolType": "stroke",  # a short line in the series' colour and dash
            "symbolStrokeWidth": 2,
            "symbolSize": 300,
        },
        "title": {"fontSize": 14, "color": TEXT, "anchor": "start", "subtitleFontSize": 12, "subtitleColor": TEXT},
        "view": {"stroke": None},
        "background": "white",
        "aria": False,  # the chart is one image (role="img" on the SVG), not a tree of marks
    }


def _x_axis(labels: Sequence[str]) -> alt.Axis:
    """Every label while they fit; on long ranges every k-th, turned when there are many."""
    step = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    shown = list(labels[::step])
    # About 7 px a character at 12 px: turned when side by side they would fill the width.
    flat = sum(len(label) + 2 for label in shown) * 7 < WIDTH * 0.8
    return alt.Axis(
        title=None,
        values=shown,
        labelAngle=0 if flat else -40,
        labelAlign="center" if flat else "right",
        labelLimit=110,
        labelOverlap="greedy",  # a label that would overlap is left out, never drawn on top
        grid=False,
    )


def _y(percent: bool, title: str | None) -> dict[str, Any]:
    """The value axis: rates 0–100 % in steps of 20; counts in round steps from 0."""
    if percent:
        return dict(
            title=title,
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(values=[0, 0.2, 0.4, 0.6, 0.8, 1], format=".0%", labelOverlap=False),
        )
    return dict(
        title=title,
        scale=alt.Scale(nice=True, zero=True),
        axis=alt.Axis(format=",d", tickMinStep=1, tickCount=5),
    )


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    percent: bool = False,
    target: float | None = None,
    y_title: str | None = None,
    locale: str = "sv",
) -> Chart:
    """A line per series over the periods; hollow points for partial periods; the target as a rule."""
    frozen = tuple(
        (s.name, tuple(s.values), tuple(bool(i < len(s.partial) and s.partial[i]) for i in range(len(labels))))
        for s in series
    )
    svg = _line_svg(chart_id, title, tuple(labels), frozen, percent, target, y_title, locale)
    return Chart(chart_id, title, _line_description(labels, series, target, percent, locale), svg)


@lru_cache(maxsize=256)
def _line_svg(
    chart_id: str,
    title: str,
    labels: tuple[str, ...],
    series: tuple[tuple[str, tuple[float | None, ...], tuple[bool, ...]], ...],
    percent: bool,
    target: float | None,
    y_title: str | None,
    locale: str,
) -> Markup:
    """Kept in-process by what is drawn: a page shown again (or its past periods) costs no rendering."""
    names = [name for name, _values, _partial in series]
    rows = [
        {"period": label, "series": name, "value": value, "partial": cut}
        for name, values, partial in series
        for label, value, cut in zip(labels, values, partial, strict=True)
    ]
    colours = [COLOURS[i % len(COLOURS)] for i in range(len(names))]
    dashes = [DASHES[i % len(DASHES)] for i in range(len(names))]
    y = _y(percent, y_title)
    x = alt.X("period:N", sort=list(labels), axis=_x_axis(labels), scale=alt.Scale(padding=0.3))
    base = alt.Chart().encode(x=x, y=alt.Y("value:Q", **y))
    # A period without a value is a gap in the line, not a line drawn across it.
    line = base.mark_line(strokeWidth=2, invalid="break-paths-filter-domains").encode(
        color=alt.Color("series:N", scale=alt.Scale(domain=names, range=colours)),
        strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(domain=names, range=dashes)),
    )
    # A partial period's point is hollow (white inside): not to be read as a fall or a peak.
    hollow = alt.datum.partial
    points = base.mark_point(filled=True, size=50, strokeWidth=2, opacity=1).encode(
        fill=alt.condition(
            hollow, alt.value("white"), alt.Fill("series:N", scale=alt.Scale(domain=names, range=colours))
        ),
        stroke=alt.Stroke("series:N", scale=alt.Scale(domain=names, range=colours)),
    )
    layers: list[alt.Chart] = [line, points]
    if target is not None:
        one = alt.Data(values=[{}])
        # The same axis as the data's, or Vega-Lite merges two differing axes into a third.
        at_target = alt.Y(datum=target, type="quantitative", **y)
        layers.append(alt.Chart(one).mark_rule(color=TEXT, strokeWidth=1.5).encode(y=at_target))
        # Its label right of the plot, where no point can be under it.
        layers.append(
            alt.Chart(one)
            .mark_text(x="width", align="left", dx=6, baseline="middle", fontSize=12, color=TEXT)
            .encode(
                y=at_target,
                text=alt.value(_("Mål %(value)s", value=number(target, percent=percent, locale=locale, short=True))),
            )
        )
    note = _("Ofylld punkt: ofullständig period") if any(r["partial"] and r["value"] is not None for r in rows) else ""
    spec = alt.layer(*layers).properties(title=alt.Title(title, subtitle=note))
    return _svg(chart_id, title, spec, rows, locale)


def _line_description(
    labels: Sequence[str], series: Sequence[Series], target: float | None, percent: bool, locale: str
) -> str:
    parts = []
    first = series[0] if series else None
    latest = None
    if first is not None:
        latest = next(
            ((labels[i], v) for i in range(len(labels) - 1, -1, -1) if (v := first.values[i]) is not None), None
        )
    if latest is not None:
        parts.append(
            _(
                "Senaste värdet (%(period)s): %(value)s.",
                period=latest[0],
                value=number(latest[1], percent=percent, locale=locale),
            )
        )
    else:
        parts.append(_("Inga värden under perioden."))
    if target is not None:
        parts.append(_("Mål: %(value)s.", value=number(target, percent=percent, locale=locale)))
    cut = [labels[i] for i in range(len(labels)) if first is not None and i < len(first.partial) and first.partial[i]]
    if cut:
        parts.append(_("Ofylld punkt: ofullständig period (%(periods)s).", periods=", ".join(cut)))
    parts.append(_("Värdena finns i tabellen."))
    return " ".join(parts)


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    y_title: str | None = None,
    locale: str = "sv",
) -> Chart:
    """A bar per label, in the order given."""
    top = max(range(len(values)), key=lambda i: values[i], default=None)
    if top is None or not values[top]:
        description = _("Inga värden under perioden.")
    else:
        description = _(
            "Flest: %(label)s (%(value)s).", label=labels[top], value=number(values[top], percent=False, locale=locale)
        )
    description += " " + _("Värdena finns i tabellen.")
    svg = _bar_svg(chart_id, title, tuple(labels), tuple(values), y_title, locale)
    return Chart(chart_id, title, description, svg)


@lru_cache(maxsize=128)
def _bar_svg(
    chart_id: str, title: str, labels: tuple[str, ...], values: tuple[float, ...], y_title: str | None, locale: str
) -> Markup:
    rows = [{"label": label, "value": value} for label, value in zip(labels, values, strict=True)]
    spec = (
        alt.Chart()
        .mark_bar(color=COLOURS[0])
        .encode(x=alt.X("label:N", sort=list(labels), axis=_x_axis(labels)), y=alt.Y("value:Q", **_y(False, y_title)))
        .properties(title=title)
    )
    return _svg(chart_id, title, spec, rows, locale)


# -- rendering ------------------------------------------------------------------------

_ROOT = re.compile(r"^<svg[^>]*>")
_VIEWBOX = re.compile(r'viewBox="([^"]+)"')
# Vega's own ARIA (for a chart read mark by mark) is dropped: the chart is one image here.
_INNER_ARIA = re.compile(r'\s(?:role|aria-[a-z]+)="[^"]*"')


def _svg(chart_id: str, title: str, chart: alt.TopLevelMixin, rows: list[dict[str, Any]], locale: str) -> Markup:
    spec = chart.properties(width=WIDTH, height=HEIGHT).to_dict(validate=False)
    # The rows join the spec here: Altair would copy and check them once per layer. (Charts
    # built without data get Altair's placeholder, "empty", which would hide the rows.)
    spec["data"] = {"values": rows}
    for layer in spec.get("layer", []):
        if layer.get("data") == {"name": "empty"}:
            del layer["data"]
    spec.get("datasets", {}).pop("empty", None)
    spec["config"] = _config()
    svg = render(json.dumps(spec, sort_keys=True, ensure_ascii=False), locale if locale in FORMAT_LOCALES else "sv")
    inner = _INNER_ARIA.sub("", _ROOT.sub("", svg, count=1))
    viewbox = _VIEWBOX.search(svg)
    root = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="{viewbox.group(1) if viewbox else f"0 0 {WIDTH} {HEIGHT}"}"'
        f' role="img" aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" focusable="false">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
    )
    return Markup(root + inner)  # noqa: S704 - vl-convert escapes the data's text; the title is escaped here


def render(spec_json: str, locale: str) -> str:
    """One Vega-Lite spec → SVG text."""
    return vl_convert.vegalite_to_svg(json.loads(spec_json), format_locale=FORMAT_LOCALES[locale])


# -- the report page's trend ---------------------------------------------------------

# The figures with a target, each its own chart beside the previous period and last year.
TARGET_CHARTS = ("service_level", "answer_rate", "response_within_1wd_rate")


def trend_charts(comparison: Comparison, period: str, as_of_day: date, locale: str) -> dict[str, Any]:
    """The report page's trend charts and their tables' rows: each target figure beside the previous
    period and last year, and the volume per channel group; partial periods marked."""
    current = comparison.current
    labels = [period_label(key, period, locale) for key in current.keys]
    partial = [is_partial(key, period, current.start, current.end, as_of_day) for key in current.keys]
    targets = report_targets()
    names = {
        "current": _("denna period"),
        "previous": _("föregående period"),
        "last_year": _("samma period i fjol"),
    }
    compared = []
    for figure in TARGET_CHARTS:
        series = [
            Series(names["current"], [r[figure] for r in current.rows], partial),
            *(
                Series(names[which], [r[figure] if r else None for r in comparison.aligned(which)])
                for which in ("previous", "last_year")
            ),
        ]
        chart = line_chart(
            f"trend-{figure}",
            _("%(figure)s per period", figure=FIGURE_LABELS[figure]),
            labels,
            series,
            percent=True,
            target=targets.get(figure),
            locale=locale,
        )
        rows = [(label, [s.values[i] for s in series]) for i, label in enumerate(labels)]
        compared.append({"figure": figure, "chart": chart, "rows": rows, "series": [s.name for s in series]})
    volume = line_chart(
        "trend-volume",
        _("Kontakter per period och kanalgrupp"),
        labels,
        [
            Series(_("Samtal"), [r["phone_queued"] for r in current.rows], partial),
            Series(_("Skriftliga"), [r["written_received"] for r in current.rows], partial),
            Series(_("Besök"), [r["walkin_visits"] for r in current.rows], partial),
        ],
        locale=locale,
    )
    ranges = {
        which: (getattr(comparison, which).start.isoformat(), getattr(comparison, which).end.isoformat())
        for which in ("previous", "last_year")
    }
    trend = [dict(r, period=label, partial=cut) for r, label, cut in zip(current.rows, labels, partial, strict=True)]
    return {"trend": trend, "volume_chart": volume, "compared_charts": compared, "compared_ranges": ranges}
