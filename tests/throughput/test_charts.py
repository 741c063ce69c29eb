"""portal.charts: figures in, accessible inline SVG out."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from portal.charts import Series, bar_chart, count_ceiling, line_chart, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ElementTree.Element:
    # The figure is HTML; with the SVG namespace declared it is also well-formed XML.
    return ElementTree.fromstring(  # noqa: S314 - the portal's own markup
        markup.replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


@pytest.mark.parametrize(("value", "top"), [(0, 1), (0.3, 0.5), (3, 5), (7, 10), (10, 10), (42, 50),
                                            (112_400_000, 200_000_000), (1234.5, 2000)])
def test_the_axis_ends_at_a_round_figure_above_the_largest_value(value, top):
    assert nice_ceiling(value) == top


@pytest.mark.parametrize(("value", "top"), [(0, 4), (1, 4), (4, 4), (5, 8), (10, 12)])
def test_a_count_axis_has_a_whole_number_on_every_grid_line(value, top):
    assert count_ceiling(value) == top


def test_stacked_bars_draw_one_rect_per_non_zero_value_and_list_every_figure():
    figure = parse(bar_chart("c", "Backups per day", ["Mon", "Tue", "Wed"],
                             [Series("Completed", [2, 0, 1], "series-ok"), Series("Failed", [1, 0, None], "series-error")]))
    svg = figure.find(f"{SVG}svg")
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "c-title c-desc"
    assert svg.find(f"{SVG}title").text == "Backups per day"
    bars = svg.findall(f"{SVG}rect")
    assert [(b.get("data-label"), b.get("data-series"), b.get("data-value")) for b in bars] == [
        ("Mon", "Completed", "2"), ("Mon", "Failed", "1"), ("Wed", "Completed", "1")]
    completed, failed = bars[0], bars[1]
    # Stacked: Failed sits on top of Completed, and the axis runs to 5 (the nice ceiling of 3).
    assert float(failed.get("y")) + float(failed.get("height")) == pytest.approx(float(completed.get("y")))
    rows = [[cell.text or "" for cell in row] for row in figure.find("table").find("tbody")]
    assert rows == [["Mon", "2", "1"], ["Tue", "0", "0"], ["Wed", "1", ""]]
    assert figure.find("table").get("class") == "visually-hidden chart-figures"


def test_bar_heights_are_proportional_to_the_values():
    svg = parse(bar_chart("d", "Durations", ["a", "b"], [Series("Duration", [10, 5])])).find(f"{SVG}svg")
    tall, short = (float(bar.get("height")) for bar in svg.findall(f"{SVG}rect"))
    assert tall == pytest.approx(2 * short)


def test_a_line_breaks_where_a_value_is_unknown_and_marks_each_known_point():
    svg = parse(line_chart("s", "Storage used", ["1", "2", "3", "4", "5"], [None, 10, 20, None, 30],
                           fmt=lambda v: f"{v:g} B")).find(f"{SVG}svg")
    points = svg.findall(f"{SVG}circle")
    assert [p.get("data-value") for p in points] == ["10", "20", "30"]
    assert len(svg.findall(f"{SVG}polyline")) == 1  # 10-20; 30 stands alone
    assert float(points[2].get("cy")) < float(points[1].get("cy")) < float(points[0].get("cy"))


def test_text_is_escaped():
    markup = bar_chart("e", "<script>alert(1)</script>", ["<b>"], [Series("x&y", [1])])
    assert "<script>" not in markup and "&lt;script&gt;" in markup and "x&amp;y" in markup
    parse(markup)  # still well formed


def test_an_empty_chart_still_renders_its_axes():
    markup = line_chart("f", "Nothing yet", [], [], summary="No storage figure recorded yet.")
    assert "No storage figure recorded yet." in markup and not re.search("<circle", markup)
