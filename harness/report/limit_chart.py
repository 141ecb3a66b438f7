"""The chart of a breaking point: load (users) against database connections, per variant,
marked at the break, with the connections the app role may use and the advice's budget."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.analysis.limit import VariantBreak
from harness.report.charts import PALETTE, STYLE, WIDTH_IN, Chart, _save

NAME = "breaking_point"
TITLE = "Load against connections, marked at the break"
CAPTION = ("Each point is one step of the search: its users and the most client backends "
           "PostgreSQL held during it (ramp: line; bisection probes: squares; --verify: "
           "triangle, at the recommended max instances). The cross marks the break; dashed: "
           "the connections the app role may open; dotted: that minus the advice's headroom.")
MARKERS = {"ramp": "o", "bisect": "s", "verify": "^"}


def _points(vb: VariantBreak, kind: str) -> tuple[list[float], list[float]]:
    rows = [r for r in vb.rows if r.probe.kind == kind and r.measures.db_connections is not None]
    return [float(r.step.users) for r in rows], [float(r.measures.db_connections or 0.0)
                                                 for r in rows]


def _level(ax: Axes, y: float, label: str, style: str) -> None:
    ax.axhline(y, color="#6b7280", ls=style, lw=1)
    ax.annotate(label, (0, y), xycoords=("axes fraction", "data"), textcoords="offset points",
                xytext=(4, 3), fontsize=7.5, color="#6b7280")


def _draw(breaks: Sequence[VariantBreak]) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, 4.2), layout="constrained")
    ax = fig.subplots()
    fig.suptitle(TITLE, x=0.01, ha="left")
    budgets: dict[int, int] = {}  # usable connections -> the advice's headroom under them
    for i, vb in enumerate(breaks):
        color = PALETTE[i % len(PALETTE)]
        for kind, marker in MARKERS.items():
            xs, ys = _points(vb, kind)
            if xs:
                ax.plot(xs, ys, marker=marker, color=color, ls="-" if kind == "ramp" else "none",
                        label=vb.name if kind == "ramp" else None, ms=5 if kind == "ramp" else 7)
        row = vb.deciding
        if row is not None and row.step.verdict == "broke" and row.measures.db_connections:
            ax.plot([row.step.users], [row.measures.db_connections], marker="X", ms=13,
                    color="#111827", mec="white", ls="none", zorder=5)
            ax.annotate(f"break: {row.step.users} users", (row.step.users,
                        row.measures.db_connections), textcoords="offset points",
                        xytext=(10, 8), fontsize=8, color="#111827")
        advice = vb.recommendation
        headroom = advice.headroom if advice is not None and advice.limit == vb.usable else 0
        budgets[vb.usable] = max(budgets.get(vb.usable, 0), headroom)
    for usable, headroom in sorted(budgets.items()):
        _level(ax, usable, f"usable {usable}", "--")
        if headroom:
            _level(ax, usable - headroom, f"budget {usable - headroom}", ":")
    ax.set_xlabel("users (load)")
    ax.set_ylabel("database connections")
    ax.set_ylim(bottom=0, top=max(ax.get_ylim()[1], max(budgets, default=0) * 1.12))
    ax.set_xlim(left=0)
    if breaks:
        ax.legend(loc="lower right")
    return fig


def limit_chart(breaks: Sequence[VariantBreak], out_dir: Path) -> Chart | None:
    """Draw the chart into ``out_dir`` (SVG and PNG); None when no step measured anything."""
    if not any(r.measures.db_connections is not None for vb in breaks for r in vb.rows):
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(cast(Any, STYLE)):
        fig = _draw(breaks)
        svg_path, png_path = out_dir / f"{NAME}.svg", out_dir / f"{NAME}.png"
        svg = _save(fig, svg_path, png_path)
        width, height = (round(x * 100) for x in fig.get_size_inches())
    return Chart(NAME, TITLE, CAPTION, svg, svg_path, png_path, width, height)
