"""Small, dependency-free SVG charts for the report (inline in the HTML, so it opens offline)."""

from __future__ import annotations

import math
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")
WIDTH, HEIGHT = 640, 340
MARGIN = {"left": 64, "right": 180, "top": 28, "bottom": 48}


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"


class _Frame:
    """Axes mapping data to pixels, with gridlines, tick labels and axis titles."""

    def __init__(self, xs: list[float], ys: list[float], *, x_label: str, y_label: str, title: str, x_ticks=None,
                 y_from_zero: bool = True, x_tick_labels: bool = True):
        self.x_ticks = x_ticks or nice_ticks(min(xs), max(xs))
        self.y_ticks = nice_ticks(min(0.0, min(ys)) if y_from_zero else min(ys), max(ys))
        self.x0, self.x1 = self.x_ticks[0], self.x_ticks[-1]
        self.y0, self.y1 = self.y_ticks[0], self.y_ticks[-1]
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
            f'<text x="{MARGIN["left"]}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
        ]
        right, bottom = WIDTH - MARGIN["right"], HEIGHT - MARGIN["bottom"]
        for tick in self.y_ticks:
            y = self.py(tick)
            self.parts.append(f'<line x1="{MARGIN["left"]}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
            self.parts.append(f'<text x="{MARGIN["left"] - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{_label(tick)}</text>')
        for tick in self.x_ticks:
            x = self.px(tick)
            self.parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN["top"]}" y2="{bottom}" stroke="#eee"/>')
            if x_tick_labels:
                self.parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" font-size="11" text-anchor="middle">{_label(tick)}</text>')
        self.parts.append(f'<rect x="{MARGIN["left"]}" y="{MARGIN["top"]}" width="{right - MARGIN["left"]}" height="{bottom - MARGIN["top"]}" fill="none" stroke="#888"/>')
        self.parts.append(f'<text x="{(MARGIN["left"] + right) / 2}" y="{HEIGHT - 10}" font-size="12" text-anchor="middle">{escape(x_label)}</text>')
        self.parts.append(
            f'<text x="14" y="{(MARGIN["top"] + bottom) / 2}" font-size="12" text-anchor="middle" '
            f'transform="rotate(-90 14 {(MARGIN["top"] + bottom) / 2})">{escape(y_label)}</text>'
        )
        self.legend_rows = 0

    def px(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return MARGIN["left"] + (value - self.x0) / span * (WIDTH - MARGIN["left"] - MARGIN["right"])

    def py(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return HEIGHT - MARGIN["bottom"] - (value - self.y0) / span * (HEIGHT - MARGIN["top"] - MARGIN["bottom"])

    def legend(self, name: str, colour: str, *, dashed: bool = False) -> None:
        x, y = WIDTH - MARGIN["right"] + 12, MARGIN["top"] + 8 + 16 * self.legend_rows
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        self.parts.append(f'<line x1="{x}" x2="{x + 18}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="3"{dash}/>')
        self.parts.append(f'<text x="{x + 24}" y="{y + 4}" font-size="11">{escape(name)}</text>')
        self.legend_rows += 1

    def hline(self, value: float, label: str) -> None:
        if not (self.y0 <= value <= self.y1):
            return
        y = self.py(value)
        self.parts.append(f'<line x1="{MARGIN["left"]}" x2="{WIDTH - MARGIN["right"]}" y1="{y:.1f}" y2="{y:.1f}" stroke="#000" stroke-dasharray="6,4"/>')
        self.legend(label, "#000", dashed=True)

    def vline(self, value: float, label: str) -> None:
        if not (self.x0 <= value <= self.x1):
            return
        x = self.px(value)
        self.parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN["top"]}" y2="{HEIGHT - MARGIN["bottom"]}" stroke="#000" stroke-dasharray="6,4"/>')
        self.legend(label, "#000", dashed=True)

    def svg(self) -> str:
        return "\n".join(self.parts + ["</svg>"])


def line_chart(series: dict[str, list[tuple[float, float]]], *, title: str, x_label: str, y_label: str,
               budget: float | None = None, budget_label: str = "") -> str:
    """One line with markers per series; an optional dashed horizontal budget line."""
    points = [p for values in series.values() for p in values]
    if not points:
        return empty_chart(title, "no measurements")
    ys = [p[1] for p in points] + ([budget] if budget is not None else [])
    frame = _Frame([p[0] for p in points] + [0.0], ys, x_label=x_label, y_label=y_label, title=title)
    for index, (name, values) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        ordered = sorted(values)
        path = " ".join(f"{'M' if i == 0 else 'L'}{frame.px(x):.1f},{frame.py(y):.1f}" for i, (x, y) in enumerate(ordered))
        frame.parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in ordered:
            frame.parts.append(f'<circle cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="3.5" fill="{colour}"><title>{escape(name)}: {y:.1f}</title></circle>')
        frame.legend(name, colour)
    if budget is not None:
        frame.hline(budget, budget_label)
    return frame.svg()


def bar_chart(bars: list[tuple[str, float]], *, title: str, y_label: str, colours: list[str] | None = None,
              reference: float | None = None, reference_label: str = "") -> str:
    """Vertical bars with their labels under the axis (rotated when many)."""
    if not bars:
        return empty_chart(title, "no measurements")
    values = [v for _, v in bars] + ([reference] if reference is not None else [])
    frame = _Frame([0.0, float(len(bars))], values, x_label="", y_label=y_label, title=title,
                   x_ticks=[0.0, float(len(bars))], x_tick_labels=False)
    slot = (WIDTH - MARGIN["left"] - MARGIN["right"]) / len(bars)
    zero = frame.py(max(frame.y0, 0.0))
    for index, (name, value) in enumerate(bars):
        colour = (colours or [])[index] if colours and index < len(colours) else PALETTE[0]
        x = MARGIN["left"] + slot * index + slot * 0.15
        top = frame.py(value)
        frame.parts.append(
            f'<rect x="{x:.1f}" y="{min(top, zero):.1f}" width="{slot * 0.7:.1f}" height="{abs(zero - top):.1f}" fill="{colour}">'
            f'<title>{escape(name)}: {value:.4g}</title></rect>'
        )
        centre = x + slot * 0.35
        base = HEIGHT - MARGIN["bottom"] + 12
        if len(bars) <= 6:
            frame.parts.append(f'<text x="{centre:.1f}" y="{base}" font-size="9" text-anchor="middle">{escape(name[:22])}</text>')
        else:
            frame.parts.append(f'<text x="{centre:.1f}" y="{base}" font-size="8" text-anchor="end" '
                               f'transform="rotate(-30 {centre:.1f} {base})">{escape(name[-16:])}</text>')
    if reference is not None:
        frame.hline(reference, reference_label)
    return frame.svg()


def scatter(points: list[tuple[str, float, float, str]], *, title: str, x_label: str, y_label: str,
            vline: float | None = None, vline_label: str = "") -> str:
    """Labelled points ``(label, x, y, series)``; one colour per series."""
    if not points:
        return empty_chart(title, "no measurements")
    xs = [p[1] for p in points] + ([vline] if vline is not None else []) + [0.0]
    frame = _Frame(xs, [p[2] for p in points], x_label=x_label, y_label=y_label, title=title, y_from_zero=False)
    series = list(dict.fromkeys(p[3] for p in points))
    for label, x, y, name in points:
        colour = PALETTE[series.index(name) % len(PALETTE)]
        frame.parts.append(f'<circle cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="5" fill="{colour}" fill-opacity="0.8"><title>{escape(label)}: {x:.1f} ms, {y:.3f}</title></circle>')
    for index, name in enumerate(series):
        frame.legend(name, PALETTE[index % len(PALETTE)])
    if vline is not None:
        frame.vline(vline, vline_label)
    return frame.svg()


def empty_chart(title: str, message: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} 80" width="{WIDTH}" height="80">'
            f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>'
            f'<text x="10" y="50" font-size="12">{escape(message)}</text></svg>')
