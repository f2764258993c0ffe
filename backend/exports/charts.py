"""The brief's figures: pure functions from the measures to PNG bytes (matplotlib, offline).

They mirror what the dashboard draws with Plotly (dashboard/figures.py); both read the same
measures from backend.metrics, so only the drawing differs.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot

import matplotlib.pyplot as plt

LEVEL_COLOURS = {
    "not_initiated": "#d9d9d9",
    "minimal": "#f4a582",
    "intermediate": "#92c5de",
    "complete": "#0571b0",
}
CATEGORY_COLOURS = plt.get_cmap("tab20").colors


def _png(fig: Any) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    return out.getvalue()


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", color="#666666", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def incident_map(points: Sequence[tuple[float, float, str, int]], title: str) -> bytes:
    """(longitude, latitude, category, fatalities): a dot per incident, sized by deaths."""
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    if not points:
        _empty(ax, "no incidents in the period")
    else:
        categories = sorted({p[2] for p in points})
        for n, category in enumerate(categories):
            mine = [p for p in points if p[2] == category]
            ax.scatter(
                [p[0] for p in mine],
                [p[1] for p in mine],
                s=[18 + 12 * min(p[3], 20) for p in mine],
                color=CATEGORY_COLOURS[n % len(CATEGORY_COLOURS)],
                alpha=0.75,
                edgecolors="white",
                linewidths=0.5,
                label=category.replace("_", " "),
            )
        mean_lat = sum(p[1] for p in points) / len(points)
        ax.set_aspect(1 / max(math.cos(math.radians(mean_lat)), 0.1))
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        ax.grid(True, color="#eeeeee")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def timeline(
    days: Sequence[date], counts: Sequence[int], deaths: Sequence[int], period_from: date
) -> bytes:
    """Incidents per day, the brief's period darker; fatalities as a line."""
    fig, ax = plt.subplots(figsize=(7.2, 2.6))
    colours = ["#1f4e79" if d >= period_from else "#9dc3e6" for d in days]
    ax.bar(days, counts, color=colours, width=0.8, label="incidents")
    ax2 = ax.twinx()
    ax2.plot(days, deaths, color="#c00000", linewidth=1.2, label="fatalities")
    ax.set_ylabel("incidents")
    ax2.set_ylabel("fatalities", color="#c00000")
    ax.tick_params(axis="x", labelsize=7, rotation=45)
    ax.set_title("Incidents per day (the brief's period in dark blue)", fontsize=10)
    return _png(fig)


def implementation_bars(rows: Sequence[tuple[str, dict[str, float]]]) -> bytes:
    """(agreement, {level: share}) as stacked bars, Peace Accords Matrix style."""
    fig, ax = plt.subplots(figsize=(7.2, 0.6 + 0.5 * max(len(rows), 1)))
    if not rows:
        _empty(ax, "no agreements")
    for y, (_name, shares) in enumerate(rows):
        left = 0.0
        for level, colour in LEVEL_COLOURS.items():
            width = shares.get(level, 0.0) * 100
            ax.barh(y, width, left=left, color=colour, label=level if y == 0 else None)
            if width >= 7:
                ax.text(left + width / 2, y, f"{width:.0f}%", ha="center", va="center", fontsize=7)
            left += width
    ax.set_yticks(range(len(rows)), [r[0][:40] for r in rows], fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of commitments")
    if rows:
        ax.legend(fontsize=7, ncols=4, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return _png(fig)


def index_bars(rows: Sequence[tuple[str, float, float | None]], title: str) -> bytes:
    """(label, index 0-100, trend in points) as horizontal bars."""
    fig, ax = plt.subplots(figsize=(7.2, 0.6 + 0.35 * max(len(rows), 1)))
    if not rows:
        _empty(ax, "no parties")
    for y, (_label, value, trend) in enumerate(rows):
        colour = "#2e7d32" if value >= 66 else "#f9a825" if value >= 33 else "#c62828"
        ax.barh(y, value, color=colour)
        arrow = "" if trend is None else f" ({trend:+.1f})"
        ax.text(value + 1, y, f"{value:.0f}{arrow}", va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.set_xlim(0, 110)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def trust_heatmap(labels: Sequence[str], matrix: Sequence[Sequence[float | None]]) -> bytes:
    size = 1.6 + 0.55 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    if not labels:
        _empty(ax, "no parties")
        return _png(fig)
    values = [[math.nan if v is None else v for v in row] for row in matrix]
    image = ax.imshow(values, cmap="RdYlGn", vmin=0, vmax=100)
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            if v is not None:
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title("Trust between parties (0-100)", fontsize=10)
    return _png(fig)


def progress_bars(rows: Sequence[tuple[str, int, int]]) -> bytes:
    """(label, achieved, target): achievement as % of target, 100% marked."""
    fig, ax = plt.subplots(figsize=(7.2, 0.6 + 0.35 * max(len(rows), 1)))
    if not rows:
        _empty(ax, "no DDR targets")
    for y, (_label, achieved, target) in enumerate(rows):
        share = 100 * achieved / target if target else 0
        ax.barh(y, min(share, 150), color="#1f4e79")
        ax.text(min(share, 150) + 1, y, f"{achieved:,} / {target:,}", va="center", fontsize=7)
    ax.axvline(100, color="#c00000", linewidth=1)
    ax.set_yticks(range(len(rows)), [r[0].replace("_", " ") for r in rows], fontsize=8)
    ax.set_xlim(0, 175)
    ax.set_xlabel("% of target")
    return _png(fig)
