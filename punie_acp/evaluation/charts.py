"""Inline SVG bar charts for the HTML report: no script, no remote resource, every label escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

BAR_HEIGHT = 16
GAP = 6
LABEL_WIDTH = 220
CHART_WIDTH = 760


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # in the chart's unit
    shown: str  # the value as text beside the bar
    colour: str = "#3b7dd8"
    marker: float | None = None  # a tick on the bar (time to first token on a latency bar)


def bar_chart(title: str, bars: Sequence[Bar], scale: float) -> str:
    """Horizontal bars, `scale` being the value of a full-width bar (1.0 for accuracy)."""
    width = CHART_WIDTH - LABEL_WIDTH - 80
    height = 28 + len(bars) * (BAR_HEIGHT + GAP)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for n, bar in enumerate(bars):
        y = 28 + n * (BAR_HEIGHT + GAP)
        length = 0.0 if scale <= 0 else max(0.0, min(1.0, bar.value / scale)) * width
        parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{y + 12}" text-anchor="end">{escape(_short(bar.label))}</text>')
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR_HEIGHT}" fill="#eef1f5"/>')
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" fill="{bar.colour}"/>'
        )
        if bar.marker is not None and scale > 0:
            x = LABEL_WIDTH + max(0.0, min(1.0, bar.marker / scale)) * width
            parts.append(f'<rect x="{x:.1f}" y="{y - 2}" width="3" height="{BAR_HEIGHT + 4}" fill="#e0a100"/>')
        parts.append(f'<text x="{LABEL_WIDTH + width + 6}" y="{y + 12}">{escape(bar.shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _short(label: str, limit: int = 32) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def accuracy_colour(value: float) -> str:
    if value >= 0.8:
        return "#2e9d57"
    if value >= 0.5:
        return "#e0a100"
    return "#d64545"
