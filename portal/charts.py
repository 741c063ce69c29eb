"""Charts drawn on the server as inline SVG: figures in, markup out, no script and nothing fetched.

Two shapes cover the dashboard: ``bar_chart`` (one bar per label, stacked when there are several series: backups
per day by outcome, a protected item's durations) and ``line_chart`` (a value per label, gaps where unknown:
storage used per day). Each chart is a ``<figure>`` holding an ``<svg role="img">`` with a ``<title>`` and a
``<desc>`` that sums it up, and a visually hidden ``<table>`` with every figure, so a screen reader reads the
numbers rather than the shapes. Written by hand rather than with a charting library because the two shapes are
small and a library would bring script or a build step to pages that have neither.

The module is pure: no database, no request. Colours come from the stylesheet through the classes given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 12, 26  # room for the value axis on the left and the labels below
GRID_LINES = 4
MAX_BAR = 40
Format = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One series of values, one per label; ``css`` names its class (its colour in the stylesheet)."""

    name: str
    values: Sequence[float | None]
    css: str = "series-0"


def nice_ceiling(value: float) -> float:
    """The axis top: the smallest of 1, 2, 2.5, 5 x 10^n at or above ``value`` (1 for nothing to show)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1.0
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def count_ceiling(value: float) -> int:
    """The axis top for counts: a multiple of the grid lines, so every line falls on a whole number."""
    return GRID_LINES * max(1, math.ceil(value / GRID_LINES))


def bar_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *,
              fmt: Format = lambda v: f"{v:g}", summary: str = "", counts: bool = False) -> SafeString:
    """Bars, one per label, the series stacked in order; a zero or missing value draws no bar. ``counts``: the
    values are whole numbers (backups), and so are the axis's."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    top = (count_ceiling if counts else nice_ceiling)(max(totals, default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    bar_width = min(MAX_BAR, max(2.0, slot * 0.7))  # a few bars stay bars, not blocks
    shapes = []
    for index, label in enumerate(labels):
        x = LEFT + index * slot + (slot - bar_width) / 2
        base = 0.0
        for one in series:
            value = one.values[index] or 0
            if value <= 0:
                continue
            y_top, y_bottom = _y(base + value, top), _y(base, top)
            shapes.append(f'<rect class="bar {escape(one.css)}" x="{x:.1f}" y="{y_top:.1f}" width="{bar_width:.1f}" '
                          f'height="{max(y_bottom - y_top, 0.5):.1f}" data-label="{escape(label)}" '
                          f'data-series="{escape(one.name)}" data-value="{_number(value)}">'
                          f'<title>{escape(label)}: {escape(one.name)} {escape(fmt(value))}</title></rect>')
            base += value
    legend = _legend(series) if len(series) > 1 else ""
    return _figure(chart_id, title, summary, labels, series, fmt, top, "".join(shapes), legend)


def line_chart(chart_id: str, title: str, labels: Sequence[str], values: Sequence[float | None], *,
               fmt: Format = lambda v: f"{v:g}", summary: str = "", name: str = "Value") -> SafeString:
    """A line through the known values, a point on each; an unknown value breaks the line."""
    known = [v for v in values if v is not None]
    top = nice_ceiling(max(known, default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    runs: list[list[str]] = [[]]
    points = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        if value is None:
            runs.append([])
            continue
        x, y = LEFT + index * slot + slot / 2, _y(value, top)
        runs[-1].append(f"{x:.1f},{y:.1f}")
        points.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3" data-label="{escape(label)}" '
                      f'data-value="{_number(value)}"><title>{escape(label)}: {escape(fmt(value))}</title></circle>')
    lines = "".join(f'<polyline class="line" fill="none" points="{" ".join(run)}"/>' for run in runs if len(run) > 1)
    return _figure(chart_id, title, summary, labels, [Series(name, values)], fmt, top, lines + "".join(points), "")


def _number(value: float) -> str:
    """A value as the data attributes carry it: whole numbers in full (bytes), others to three decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def _y(value: float, top: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top)


def _axes(labels: Sequence[str], top: float, fmt: Format) -> str:
    parts = []
    for step in range(GRID_LINES + 1):
        value = top * step / GRID_LINES
        y = _y(value, top)
        parts.append(f'<line class="grid-line" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="axis" x="{LEFT - 6}" y="{y + 3.5:.1f}" text-anchor="end">{escape(fmt(value))}</text>')
    if labels:
        slot = (WIDTH - LEFT - RIGHT) / len(labels)
        shown = sorted({0, len(labels) // 2, len(labels) - 1})
        for index in shown:
            anchor = "start" if index == 0 and len(labels) > 1 else "end" if index == len(labels) - 1 and index else "middle"
            x = LEFT + index * slot + (0 if anchor == "start" else slot if anchor == "end" else slot / 2)
            parts.append(f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
                         f'{escape(labels[index])}</text>')
    return "".join(parts)


def _legend(series: Sequence[Series]) -> str:
    items = "".join(f'<li><span class="swatch {escape(s.css)}"></span>{escape(s.name)}</li>' for s in series)
    return f'<ul class="chart-legend" aria-hidden="true">{items}</ul>'


def _figure(chart_id: str, title: str, summary: str, labels: Sequence[str], series: Sequence[Series], fmt: Format,
            top: float, shapes: str, legend: str) -> SafeString:
    chart_id = escape(chart_id)
    head = "".join(f"<th scope=\"col\">{escape(s.name)}</th>" for s in series)
    rows = "".join(
        f"<tr><th scope=\"row\">{escape(label)}</th>"
        + "".join(f"<td>{'' if s.values[i] is None else escape(fmt(s.values[i]))}</td>" for s in series) + "</tr>"
        for i, label in enumerate(labels))
    return mark_safe(  # noqa: S308 - every text above went through escape()
        f'<figure class="chart" id="{chart_id}">'
        f'<figcaption>{escape(title)}</figcaption>'
        f'<svg class="chart-svg" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="xMidYMid meet" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(summary)}</desc>'
        f'{_axes(labels, top, fmt)}{shapes}</svg>{legend}'
        f'<table class="visually-hidden chart-figures"><caption>{escape(title)}</caption>'
        f'<thead><tr><th scope="col">Label</th>{head}</tr></thead><tbody>{rows}</tbody></table>'
        f'</figure>')
