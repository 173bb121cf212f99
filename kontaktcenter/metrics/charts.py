"""Charts as server-side SVG: no script, no internet; each page puts a data table beside them."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 12, 12, 40
# Colours with at least 3:1 contrast against white (WCAG 1.4.11), told apart by dash too.
SERIES_STYLES = [("#004a8f", ""), ("#b04a00", "6 4"), ("#1e6b2f", "2 3")]


def _scale(values: Sequence[float | None]) -> float:
    top = max((v for v in values if v is not None), default=0) or 1
    return float(top)


def _frame(chart_id: str, title: str, top: float, percent: bool) -> list[str]:
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{chart_id}-title" focusable="false" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
    ]
    for i in range(5):
        y = PAD_TOP + inner_h * i / 4
        value = top * (4 - i) / 4
        label = f"{value * 100:.0f} %" if percent else (f"{value:.0f}" if top >= 4 else f"{value:.1f}")
        parts.append(f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d0d0"/>')
        parts.append(
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#1a1a1a">{label}</text>'
        )
    return parts


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    step = max(1, len(labels) // 10)
    return [
        f'<text x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" text-anchor="middle" font-size="11" fill="#1a1a1a">{escape(str(label))}</text>'
        for i, (label, x) in enumerate(zip(labels, xs, strict=True))
        if i % step == 0
    ]


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    percent: bool = False,
) -> Markup:
    """One polyline per series; a gap where a value is empty."""
    top = 1.0 if percent else _scale([v for values in series.values() for v in values])
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    n = max(len(labels), 1)
    xs = [PAD_LEFT + (inner_w * (i + 0.5) / n) for i in range(len(labels))]
    parts = _frame(chart_id, title, top, percent)
    for index, (name, values) in enumerate(series.items()):
        colour, dash = SERIES_STYLES[index % len(SERIES_STYLES)]
        segment: list[str] = []
        segments = []
        for x, value in zip(xs, values, strict=True):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            y = PAD_TOP + inner_h * (1 - value / top)
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
        if segment:
            segments.append(segment)
        for points in segments:
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash_attr} points="{" ".join(points)}"/>'
            )
        legend_x = PAD_LEFT + index * 200
        parts.append(
            f'<line x1="{legend_x}" x2="{legend_x + 24}" y1="{HEIGHT - 8}" y2="{HEIGHT - 8}" stroke="{colour}" stroke-width="2"{f" stroke-dasharray={chr(34)}{dash}{chr(34)}" if dash else ""}/>'
        )
        parts.append(f'<text x="{legend_x + 30}" y="{HEIGHT - 4}" font-size="11" fill="#1a1a1a">{escape(name)}</text>')
    parts += _x_labels(labels, xs)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def bar_chart(chart_id: str, title: str, labels: Sequence[str], values: Sequence[float]) -> Markup:
    top = _scale(values)
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    n = max(len(labels), 1)
    width = inner_w / n
    parts = _frame(chart_id, title, top, False)
    xs = []
    for i, value in enumerate(values):
        h = inner_h * (value or 0) / top
        x = PAD_LEFT + width * i
        xs.append(x + width / 2)
        parts.append(
            f'<rect x="{x + width * 0.1:.1f}" y="{PAD_TOP + inner_h - h:.1f}" width="{width * 0.8:.1f}" height="{h:.1f}" fill="#004a8f"/>'
        )
    parts += _x_labels(labels, xs)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
