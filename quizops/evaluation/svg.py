"""Small, dependency-free SVG charts for the evaluation report (no network, no fonts to load).

Each function returns one ``<svg>`` element as text, drawn in a fixed palette; labels are
escaped. The report inlines them, so it renders in the Kubeflow UI without network access.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
)  # fmt: skip
_FONT = "font-family='sans-serif' font-size='11'"


@dataclass(frozen=True)
class Series:
    """One line with an optional band.

    Attributes:
        name: Legend label.
        y: Values at x = 0, 1, 2, ...
        low: Lower band (same length) or empty.
        high: Upper band or empty.
    """

    name: str
    y: Sequence[float]
    low: Sequence[float] = ()
    high: Sequence[float] = ()


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * step:
            step *= mult
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def line_chart(series: Sequence[Series], *, title: str, xlabel: str, ylabel: str,
               width: int = 640, height: int = 320) -> str:  # fmt: skip
    """Lines with shaded bands (learning curves).

    Args:
        series: The lines.
        title: Chart title.
        xlabel: X axis label.
        ylabel: Y axis label.
        width: Pixels.
        height: Pixels.

    Returns:
        The SVG element.
    """
    left, right, top, bottom = 56, 170, 28, 40
    values = [v for s in series for v in (*s.y, *s.low, *s.high) if math.isfinite(v)]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    n = max((len(s.y) for s in series), default=1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(i: float) -> float:
        return left + plot_w * (i / max(1, n - 1))

    def py(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{_esc(title)}'>",
        f"<rect width='{width}' height='{height}' fill='white'/>",
        f"<text x='{left}' y='16' {_FONT} font-weight='bold'>{_esc(title)}</text>",
    ]
    for t in _ticks(lo, hi):
        parts.append(
            f"<line x1='{left}' x2='{left + plot_w}' y1='{py(t):.1f}' y2='{py(t):.1f}' "
            "stroke='#e5e5e5'/>"
            f"<text x='{left - 6}' y='{py(t) + 4:.1f}' text-anchor='end' {_FONT}>{t:g}</text>"
        )
    for t in _ticks(0, n - 1):
        parts.append(
            f"<text x='{px(t):.1f}' y='{top + plot_h + 16}' text-anchor='middle' {_FONT}>"
            f"{t:g}</text>"
        )
    parts.append(
        f"<rect x='{left}' y='{top}' width='{plot_w}' height='{plot_h}' fill='none' "
        "stroke='#999'/>"
        f"<text x='{left + plot_w / 2}' y='{height - 6}' text-anchor='middle' {_FONT}>"
        f"{_esc(xlabel)}</text>"
        f"<text x='14' y='{top + plot_h / 2}' text-anchor='middle' {_FONT} "
        f"transform='rotate(-90 14 {top + plot_h / 2})'>{_esc(ylabel)}</text>"
    )
    for k, s in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        if len(s.low) == len(s.y) and len(s.high) == len(s.y) and len(s.y):
            upper = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(s.high))
            lower = " ".join(
                f"{px(i):.1f},{py(v):.1f}" for i, v in reversed(list(enumerate(s.low)))
            )
            parts.append(f"<polygon points='{upper} {lower}' fill='{color}' fill-opacity='0.18'/>")
        points = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(s.y))
        parts.append(f"<polyline points='{points}' fill='none' stroke='{color}' stroke-width='2'/>")
        ly = top + 12 + 16 * k
        parts.append(
            f"<line x1='{left + plot_w + 10}' x2='{left + plot_w + 26}' y1='{ly - 4}' "
            f"y2='{ly - 4}' stroke='{color}' stroke-width='3'/>"
            f"<text x='{left + plot_w + 30}' y='{ly}' {_FONT}>{_esc(s.name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def interval_chart(
    rows: Sequence[tuple[str, float, float, float]],
    *,
    title: str,
    xlabel: str,
    reference: float | None = None,
    width: int = 640,
    colors: Sequence[str] | None = None,
) -> str:
    """Point estimates with interval whiskers, one row each (forest plot).

    Args:
        rows: ``(label, estimate, low, high)``.
        title: Chart title.
        xlabel: Axis label.
        reference: A vertical reference line (e.g. 0 for differences).
        width: Pixels.
        colors: One colour per row (None: :data:`PALETTE` in row order), so that a row can
            carry the colour its policy has in the other charts.

    Returns:
        The SVG element.
    """
    left, right, top, row_h = 250, 24, 28, 22
    height = top + row_h * len(rows) + 40
    values = [v for r in rows for v in r[1:] if math.isfinite(v)]
    if reference is not None:
        values.append(reference)
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    plot_w = width - left - right

    def px(v: float) -> float:
        return left + plot_w * (v - lo) / (hi - lo)

    bottom = top + row_h * len(rows)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{_esc(title)}'>",
        f"<rect width='{width}' height='{height}' fill='white'/>",
        f"<text x='8' y='16' {_FONT} font-weight='bold'>{_esc(title)}</text>",
    ]
    for t in _ticks(lo, hi):
        parts.append(
            f"<line x1='{px(t):.1f}' x2='{px(t):.1f}' y1='{top}' y2='{bottom}' stroke='#eee'/>"
            f"<text x='{px(t):.1f}' y='{bottom + 14}' text-anchor='middle' {_FONT}>{t:.3g}</text>"
        )
    if reference is not None:
        parts.append(
            f"<line x1='{px(reference):.1f}' x2='{px(reference):.1f}' y1='{top}' "
            f"y2='{bottom}' stroke='#555' stroke-dasharray='4 3'/>"
        )
    for k, (label, est, low, high) in enumerate(rows):
        y = top + row_h * k + row_h / 2
        color = PALETTE[k % len(PALETTE)] if colors is None else colors[k]
        parts.append(
            f"<text x='{left - 8}' y='{y + 4:.1f}' text-anchor='end' {_FONT}>{_esc(label)}</text>"
        )
        if math.isfinite(low) and math.isfinite(high):
            parts.append(
                f"<line x1='{px(low):.1f}' x2='{px(high):.1f}' y1='{y:.1f}' y2='{y:.1f}' "
                f"stroke='{color}' stroke-width='2'/>"
            )
        if math.isfinite(est):
            parts.append(f"<circle cx='{px(est):.1f}' cy='{y:.1f}' r='4' fill='{color}'/>")
    parts.append(
        f"<text x='{left + plot_w / 2}' y='{height - 6}' text-anchor='middle' {_FONT}>"
        f"{_esc(xlabel)}</text></svg>"
    )
    return "".join(parts)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, xlabel: str,
              limit: float | None = None, width: int = 640) -> str:  # fmt: skip
    """Horizontal bars (item exposure), with an optional limit line.

    Args:
        labels: Bar labels.
        values: Bar lengths (non-negative).
        title: Chart title.
        xlabel: Axis label.
        limit: A vertical limit line (e.g. the largest allowed share).
        width: Pixels.

    Returns:
        The SVG element.
    """
    left, right, top, row_h = 110, 24, 28, 16
    height = top + row_h * len(labels) + 40
    hi = max([*values, limit or 0.0, 1e-9]) * 1.05
    plot_w = width - left - right
    bottom = top + row_h * len(labels)

    def px(v: float) -> float:
        return left + plot_w * v / hi

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{_esc(title)}'>",
        f"<rect width='{width}' height='{height}' fill='white'/>",
        f"<text x='8' y='16' {_FONT} font-weight='bold'>{_esc(title)}</text>",
    ]
    for t in _ticks(0.0, hi):
        parts.append(
            f"<text x='{px(t):.1f}' y='{bottom + 14}' text-anchor='middle' {_FONT}>{t:.3g}</text>"
        )
    for k, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + row_h * k
        parts.append(
            f"<rect x='{left}' y='{y + 2}' width='{max(0.0, px(value) - left):.1f}' "
            f"height='{row_h - 4}' fill='{PALETTE[0]}'/>"
            f"<text x='{left - 6}' y='{y + row_h - 4}' text-anchor='end' {_FONT}>"
            f"{_esc(label)}</text>"
        )
    if limit is not None:
        parts.append(
            f"<line x1='{px(limit):.1f}' x2='{px(limit):.1f}' y1='{top}' y2='{bottom}' "
            "stroke='#d62728' stroke-dasharray='4 3'/>"
        )
    parts.append(
        f"<text x='{left + plot_w / 2}' y='{height - 6}' text-anchor='middle' {_FONT}>"
        f"{_esc(xlabel)}</text></svg>"
    )
    return "".join(parts)
