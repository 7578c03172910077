"""The dashboard's SVG charts: well-formed, escaped, accessible, readable on a phone."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bot.console.charts import bar_chart, week_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_bar_chart_shows_each_topic_with_its_count_and_hides_small_ones() -> None:
    svg = bar_chart(
        [("kehamilan.periksa", 1234), ("bayi.asi", 40), ("jiwa.stres", None)],
        title="Pertanyaan per topik",
    )
    root = parse(svg)
    shown = texts(root)
    assert "kehamilan.periksa" in shown and "1.234" in shown and "40" in shown
    assert "<10" in shown  # suppressed: a label, no bar
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") != "#ffffff"]
    assert len(bars) == 2
    widths = [float(r.get("width", "0")) for r in bars]
    assert widths[0] > widths[1] > 0  # the longer bar for the larger count


def test_labels_are_escaped_and_never_become_markup() -> None:
    label = '<script>alert("x")</script> & co'
    svg = bar_chart([(label, 12)], title='Judul <b>"tebal"</b>', desc="<img src=x>")
    root = parse(svg)
    assert "<script>" not in svg and "<img" not in svg
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))
    assert label in texts(root)
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == 'Judul <b>"tebal"</b>'
    # Characters XML cannot hold do not break the page.
    parse(week_chart([("mg\x00 1\x1b", 3)], title="kontrol\x07"))


def test_charts_are_accessible_and_fit_a_phone() -> None:
    first = parse(bar_chart([("a", 1)], title="Satu"))
    second = parse(bar_chart([("a", 1)], title="Dua"))
    for root in (first, second):
        assert root.get("role") == "img"
        assert root.get("width") == "100%"
        assert root.get("viewBox", "").startswith("0 0 360 ")
        assert root.get("style") is None  # the console's CSP forbids inline styles
        title_id, desc_id = (root.get("aria-labelledby") or "").split()
        ids = {e.get("id"): e for e in root.iter() if e.get("id")}
        assert ids[title_id].tag == f"{SVG}title" and ids[desc_id].tag == f"{SVG}desc"
        assert "a: 1" in (ids[desc_id].text or "")  # every value, for screen readers
    assert first.get("aria-labelledby") != second.get("aria-labelledby")  # one page, two charts
    named = parse(bar_chart([], title="x", ident='bad" id=<x>'))
    assert named.get("aria-labelledby") == "badidx-title badidx-desc"
    assert "Belum ada data." in texts(named)


def test_week_columns_and_a_line_broken_where_a_week_is_suppressed() -> None:
    weeks = [("6 Jan", 5), ("13 Jan", 17), ("20 Jan", None), ("27 Jan", 9), ("3 Feb", 30)]
    columns = parse(week_chart(weeks, title="Pertanyaan per minggu"))
    bars = [r for r in columns.iter(f"{SVG}rect") if r.get("fill") != "#ffffff"]
    assert len(bars) == 4
    assert {"6 Jan", "3 Feb", "<10", "30", "50"} <= set(texts(columns))  # axis top: 50
    line = parse(week_chart(weeks, title="Gawat darurat per minggu", kind="line"))
    polylines = list(line.iter(f"{SVG}polyline"))
    assert len(polylines) == 2  # no line drawn through the hidden week
    assert len(list(line.iter(f"{SVG}circle"))) == 4
    with pytest.raises(ValueError):
        week_chart(weeks, title="x", kind="pie")


def test_many_weeks_keep_their_labels_apart() -> None:
    weeks = [(f"mg {n}", n) for n in range(1, 27)]
    root = parse(week_chart(weeks, title="Setengah tahun"))
    labels = [t for t in texts(root) if t.startswith("mg ")]
    assert 4 <= len(labels) <= 8
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "mg 26: 26" in (desc.text or "")


def test_a_long_list_of_topics_is_cut_with_a_note() -> None:
    items = [(f"topik.{n:02d}", 100 - n) for n in range(20)]
    root = parse(bar_chart(items, title="Topik", limit=15))
    assert "topik.14" in texts(root) and "topik.15" not in texts(root)
    assert "dan 5 lainnya (lihat tabel)" in texts(root)
