"""Small server-side SVG charts for the console: no JavaScript, no library, no CDN.

Each function returns one `<svg>` element as text, to put inline in a page (mark it
safe in jinja2: every label and title is escaped here). Accessible: `role="img"`
with a `<title>` and a `<desc>` (which lists every value) named by
`aria-labelledby`, every value also drawn as text, and each bar or point carries its
own `<title>` (a tooltip). A suppressed value (None, fewer than 10 people) is drawn
as "<10", never as a bar. A fixed palette with enough contrast on white; the
viewBox is 360 units wide and the width 100%, so a 360 px phone shows 12 px text
(console.css may cap the width through the class `ks-chart`). Presentation
attributes only, no `style`: the console's CSP forbids inline styles.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from xml.sax.saxutils import escape

__all__ = ["PALETTE", "bar_chart", "week_chart"]

PALETTE = ("#1d4e89", "#00798c", "#b5384a", "#8a5a00", "#3d7a4f", "#2e4057")
TEXT = "#1f2933"
MUTED = "#52606d"
GRID = "#d9e2ec"
WIDTH = 360
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
SUPPRESSED = "<10"
LABEL_CHARS = 48

_INVALID_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_IDENT = re.compile(r"[^A-Za-z0-9_-]")


def bar_chart(
    items: Sequence[tuple[str, int | None]],
    *,
    title: str,
    desc: str = "",
    unit: str = "pertanyaan",
    ident: str | None = None,
    limit: int = 15,
    colour: int = 0,
) -> str:
    """Horizontal bars, one per (label, value), in the order given (e.g. questions per
    topic, most asked first); the label above its bar so long names fit on a phone.
    At most `limit` bars; a line says how many more there were."""
    shown, rest = list(items)[:limit], max(0, len(items) - limit)
    top, row = 34, 32
    height = top + row * max(1, len(shown)) + (20 if rest else 0) + 6
    fill = PALETTE[colour % len(PALETTE)]
    biggest = max([v for _, v in shown if v is not None] or [0])
    span = WIDTH - 16 - 56  # room on the right for the value
    parts: list[str] = []
    if not shown:
        parts.append(_text(8, top + 16, "Belum ada data.", size=12, fill=MUTED))
    for index, (label, value) in enumerate(shown):
        y = top + index * row
        said = _value(value)
        parts.append("<g>")
        parts.append(f"<title>{_esc(f'{label}: {said} {unit}')}</title>")
        parts.append(_text(8, y + 12, _short(label), size=12))
        if value is None:
            parts.append(_text(8, y + 26, SUPPRESSED, size=11, fill=MUTED))
        else:
            width = max(2.0, span * value / biggest) if value > 0 else 0.0
            parts.append(
                f'<rect x="8" y="{y + 17}" width="{width:.1f}" height="11" fill="{fill}" rx="2"/>'
            )
            parts.append(_text(8 + width + 4, y + 26, said, size=11))
        parts.append("</g>")
    if rest:
        more = f"dan {rest} lainnya (lihat tabel)"
        parts.append(_text(8, top + row * len(shown) + 12, more, size=11, fill=MUTED))
    summary = "; ".join(f"{label}: {_value(value)}" for label, value in items)
    return _svg(title, _describe(desc, summary, unit), height, parts, ident)


def week_chart(
    points: Sequence[tuple[str, int | None]],
    *,
    title: str,
    desc: str = "",
    unit: str = "pertanyaan",
    kind: str = "column",
    ident: str | None = None,
    colour: int = 0,
) -> str:
    """One value per week, oldest first: columns (`kind="column"`) or a line
    (`kind="line"`, broken where a value is suppressed)."""
    if kind not in ("column", "line"):
        raise ValueError("kind must be 'column' or 'line'")
    height, left, right, top, base = 220, 40, WIDTH - 8, 40, 184
    fill = PALETTE[colour % len(PALETTE)]
    values = [v for _, v in points if v is not None]
    ceiling = _nice(max(values or [0]))
    parts: list[str] = []
    for step in (0, 1, 2):  # gridlines at 0, half and the top, with their values
        level = ceiling * step // 2
        y = base - (base - top) * step / 2
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="{GRID}" '
            f'stroke-width="1"/>'
        )
        parts.append(_text(left - 4, y + 4, _number(level), size=10, fill=MUTED, anchor="end"))
    if not points:
        parts.append(_text(left + 8, top + 60, "Belum ada data.", size=12, fill=MUTED))
    band = (right - left) / max(1, len(points))
    every = max(1, math.ceil(len(points) / 7))  # about 7 labels fit at 360 px
    labelled = len(points) <= 13  # room for each value above its column
    centres: list[tuple[float, float] | None] = []
    for index, (label, value) in enumerate(points):
        x = left + band * index + band / 2
        y = base if value is None or ceiling == 0 else base - (base - top) * value / ceiling
        centres.append(None if value is None else (x, y))
        parts.append("<g>")
        parts.append(f"<title>{_esc(f'{label}: {_value(value)} {unit}')}</title>")
        if value is None:
            parts.append(_text(x, base - 4, SUPPRESSED, size=9, fill=MUTED, anchor="middle"))
        elif kind == "column":
            width = band * 0.7
            parts.append(
                f'<rect x="{x - width / 2:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{base - y:.1f}" fill="{fill}"/>'
            )
        else:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{fill}"/>')
        if value is not None and labelled:
            parts.append(_text(x, y - 5, _number(value), size=10, anchor="middle"))
        if index % every == 0:
            parts.append(
                _text(x, base + 16, _short(label, 10), size=10, fill=MUTED, anchor="middle")
            )
        parts.append("</g>")
    if kind == "line":
        for segment in _segments(centres):
            if len(segment) > 1:
                coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in segment)
                parts.append(
                    f'<polyline points="{coords}" fill="none" stroke="{fill}" stroke-width="2"/>'
                )
    parts.append(
        f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="{MUTED}" '
        f'stroke-width="1"/>'
    )
    summary = "; ".join(f"{label}: {_value(value)}" for label, value in points)
    return _svg(title, _describe(desc, summary, unit), height, parts, ident)


def _svg(title: str, desc: str, height: int, parts: list[str], ident: str | None) -> str:
    name = _ident(ident, title)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ks-chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" role="img" '
        f'aria-labelledby="{name}-title {name}-desc" font-family="{_esc(FONT)}">'
        f'<title id="{name}-title">{_esc(title)}</title>'
        f'<desc id="{name}-desc">{_esc(desc)}</desc>'
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>'
    )
    heading = _text(8, 20, _short(title, 52), size=14, weight="bold")
    return head + heading + "".join(parts) + "</svg>"


def _text(
    x: float,
    y: float,
    content: str,
    *,
    size: int,
    fill: str = TEXT,
    anchor: str = "start",
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}" '
        f'text-anchor="{anchor}" font-weight="{weight}">{_esc(content)}</text>'
    )


def _esc(text: str) -> str:
    """Text and attribute values: markup escaped, characters XML cannot hold dropped."""
    return escape(_INVALID_XML.sub("", text), {'"': "&quot;", "'": "&apos;"})


def _ident(ident: str | None, title: str) -> str:
    """Ids unique per chart (several charts share a page), from the caller or the title."""
    cleaned = _IDENT.sub("", ident or "")
    if not cleaned:
        cleaned = "chart-" + hashlib.sha256(title.encode()).hexdigest()[:10]
    return cleaned if cleaned[0].isalpha() else f"c-{cleaned}"


def _short(label: str, limit: int = LABEL_CHARS) -> str:
    label = " ".join(label.split())
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _number(value: int) -> str:
    """Indonesian thousands: 12.345."""
    return f"{value:,}".replace(",", ".")


def _value(value: int | None) -> str:
    return SUPPRESSED if value is None else _number(value)


def _describe(desc: str, summary: str, unit: str) -> str:
    listed = f"Jumlah {unit}: {summary}." if summary else "Belum ada data."
    return f"{desc} {listed}".strip()


def _nice(value: int) -> int:
    """A round top for the axis (10, 20, 50, 100, ...), even so that half is whole."""
    if value <= 10:
        return 10
    magnitude = int(10 ** int(math.log10(value)))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _segments(centres: list[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    segments: list[list[tuple[float, float]]] = [[]]
    for point in centres:
        if point is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append(point)
    return [s for s in segments if s]
