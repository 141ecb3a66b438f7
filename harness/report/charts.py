"""The report's charts (matplotlib), written as SVG and PNG files.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot, so no global
figure registry) inside ``matplotlib.rc_context`` (so no rcParams leak to the caller).
SVG output is deterministic: fixed hash salt, no date, text kept as text.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from harness.analysis.frames import PLATFORM_STATES
from harness.analysis.timeseries import VariantSeries
from harness.results.metric_names import ERROR_KINDS

STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.6,
    "axes.edgecolor": "#9ca3af",
    "axes.labelcolor": "#374151",
    "xtick.color": "#4b5563",
    "ytick.color": "#4b5563",
    "legend.frameon": False,
    "legend.fontsize": 8,
    "figure.titlesize": 12,
    "figure.titleweight": "bold",
    "svg.fonttype": "none",
    "svg.hashsalt": "pgstampede",
    "path.simplify": True,
    "axes.axisbelow": True,
}
PALETTE = ("#2563eb", "#ea580c", "#dc2626", "#16a34a", "#7c3aed", "#0891b2", "#db2777", "#65a30d")
KIND_COLORS: dict[str, str] = dict(zip(
    ERROR_KINDS, ("#dc2626", "#f59e0b", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#ea580c",
                  "#6b7280", "#a16207", "#1f2937", "#be123c", "#0f766e"), strict=True))
STATE_COLORS = {"starting": "#fbbf24", "busy": "#2563eb", "warm": "#16a34a",
                "frozen": "#93c5fd", "zombie": "#6b7280"}
WIDTH_IN = 10.0
PNG_DPI = 120
TIME_LABEL = "seconds since load start"


@dataclass(frozen=True)
class Chart:
    """One chart: its file stem, title, caption, SVG text, and where its files are."""

    name: str
    title: str
    caption: str
    svg: bytes
    svg_path: Path
    png_path: Path
    width_px: int
    height_px: int


def _colors(series: Sequence[VariantSeries]) -> dict[str, str]:
    return {s.name: PALETTE[i % len(PALETTE)] for i, s in enumerate(series)}


def _figure(rows: int, row_height: float, title: str) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(WIDTH_IN, 0.6 + rows * row_height), layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0].tolist()
    fig.suptitle(title, x=0.01, ha="left")
    axes[-1].set_xlabel(TIME_LABEL)
    return fig, axes


def _legend(fig: Figure, axes: Sequence[Axes]) -> None:
    handles, labels = [], []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 5))


def _connections(series: Sequence[VariantSeries]) -> Figure:
    fig, (ax,) = _figure(1, 3.4, "Database connections")
    colors = _colors(series)
    for s in series:
        ax.plot(s.db_total.index, s.db_total.to_numpy(), color=colors[s.name], lw=1.6,
                label=s.name)
    for limit in sorted({s.max_connections for s in series if s.max_connections}):
        ax.axhline(limit, color="#dc2626", ls="--", lw=1.0)
        ax.annotate(f"max_connections = {limit}", (0.005, limit), xycoords=("axes fraction",
                    "data"), va="bottom", fontsize=8, color="#dc2626")
    ax.set_ylabel("client backends")
    ax.set_ylim(bottom=0)
    users_ax = ax.twinx()
    users = series[0].users
    users_ax.fill_between(users.index, users.to_numpy(), color="#9ca3af", alpha=0.18, lw=0,
                          label="users (right axis)")
    users_ax.set_ylabel("users")
    users_ax.set_ylim(bottom=0)
    users_ax.grid(False)
    users_ax.spines["right"].set_visible(True)
    ax.set_zorder(users_ax.get_zorder() + 1)
    ax.patch.set_visible(False)
    _legend(fig, [ax, users_ax])
    return fig


def _errors(series: Sequence[VariantSeries]) -> Figure:
    failing = [s for s in series if s.errors_by_kind.to_numpy().sum() > 0]
    if not failing:
        fig = Figure(figsize=(WIDTH_IN, 1.2), layout="constrained")
        fig.suptitle("Errors per second by kind", x=0.01, ha="left")
        ax = fig.subplots()
        ax.set_axis_off()
        ax.text(0.5, 0.45, "No failed requests in any variant", ha="center", va="center",
                transform=ax.transAxes, fontsize=11, color="#16a34a")
        return fig
    fig, axes = _figure(len(failing), 1.9, "Errors per second by kind")
    for ax, s in zip(axes, failing, strict=True):
        kinds = [k for k in s.errors_by_kind.columns if s.errors_by_kind[k].sum() > 0]
        ax.stackplot(s.errors_by_kind.index, *[s.errors_by_kind[k].to_numpy() for k in kinds],
                     labels=kinds, colors=[KIND_COLORS.get(k, "#6b7280") for k in kinds], lw=0)
        ax.set_title(s.name)
        ax.set_ylabel("errors/s")
    _legend(fig, axes)
    return fig


def _latency(series: Sequence[VariantSeries]) -> Figure:
    fig, axes = _figure(3, 1.9, "Latency over time (1 s bins)")
    colors = _colors(series)
    values = np.concatenate([s.latency.to_numpy().ravel() for s in series])
    finite = values[np.isfinite(values) & (values > 0)]
    log = finite.size > 0 and finite.max() / finite.min() > 50
    for ax, column in zip(axes, ("p50", "p95", "p99"), strict=True):
        for s in series:
            ax.plot(s.latency.index, s.latency[column].to_numpy(), color=colors[s.name],
                    lw=1.2, label=s.name)
        ax.set_title(column)
        ax.set_ylabel("ms")
        if log:
            ax.set_yscale("log")
    _legend(fig, axes)
    return fig


def _throughput(series: Sequence[VariantSeries]) -> Figure:
    fig, (ax,) = _figure(1, 3.0, "Throughput")
    colors = _colors(series)
    for s in series:
        ax.plot(s.requests_ok.index, s.requests_ok.to_numpy(), color=colors[s.name], lw=1.4,
                label=f"{s.name} ok")
        if s.requests_failed.sum() > 0:
            ax.plot(s.requests_failed.index, s.requests_failed.to_numpy(), color=colors[s.name],
                    lw=1.0, ls=":", label=f"{s.name} failed")
    ax.set_ylabel("requests/s")
    ax.set_ylim(bottom=0)
    _legend(fig, [ax])
    return fig


def _pooler(series: Sequence[VariantSeries]) -> Figure | None:
    pooled = [s for s in series if len(s.pooler_queue)]
    if not pooled:
        return None
    fig, axes = _figure(2, 1.9, "PgBouncer: clients waiting and server connections in use")
    colors = _colors(series)
    for ax, column in zip(axes, ("cl_waiting", "sv_active"), strict=True):
        for s in pooled:
            ax.plot(s.pooler_queue.index, s.pooler_queue[column].to_numpy(),
                    color=colors[s.name], lw=1.3, label=s.name)
        ax.set_title(column)
        ax.set_ylim(bottom=0)
    _legend(fig, axes)
    return fig


def _platform(series: Sequence[VariantSeries]) -> Figure | None:
    emulated = [s for s in series if len(s.platform_states)]
    if not emulated:
        return None
    fig, axes = _figure(len(emulated), 2.3, "Serverless instances by state, with cold starts")
    twins: list[Axes] = []
    for ax, s in zip(axes, emulated, strict=True):
        states = s.platform_states.fillna(0.0)
        ax.stackplot(states.index, *[states[c].to_numpy() for c in PLATFORM_STATES],
                     labels=list(PLATFORM_STATES), lw=0,
                     colors=[STATE_COLORS[c] for c in PLATFORM_STATES])
        if s.pooler == "none" and s.max_connections:
            usable = s.max_connections - 3
            ax.axhline(usable, color="#dc2626", ls="--", lw=1.0,
                       label="usable connections (max_connections − 3)")
        ax.set_title(s.name)
        ax.set_ylabel("instances")
        cold = ax.twinx()
        twins.append(cold)
        cold.plot(s.cold_starts.index, s.cold_starts.to_numpy(), color="#111827", lw=0.9,
                  label="cold starts/s (right axis)")
        cold.set_ylabel("cold starts/s")
        cold.set_ylim(bottom=0)
        cold.grid(False)
        cold.spines["right"].set_visible(True)
    _legend(fig, axes + twins)
    return fig


def _cdf(series: Sequence[VariantSeries]) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, 3.6), layout="constrained")
    ax = fig.subplots()
    fig.suptitle("Latency distribution (CDF)", x=0.01, ha="left")
    colors = _colors(series)
    for s in series:
        if len(s.cdf):
            ax.plot(s.cdf["latency_ms"].to_numpy(), s.cdf["fraction"].to_numpy(),
                    color=colors[s.name], lw=1.5, label=s.name)
    for q in (0.5, 0.95, 0.99):
        ax.axhline(q, color="#9ca3af", lw=0.7, ls=":")
        ax.annotate(f"p{q * 100:g}", (1.0, q), xycoords=("axes fraction", "data"),
                    fontsize=7, color="#6b7280", va="center", ha="left")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of requests")
    ax.set_ylim(0, 1.01)
    _legend(fig, [ax])
    return fig


ChartSpec = tuple[str, str, str, Callable[[Sequence[VariantSeries]], Figure | None]]

SPECS: tuple[ChartSpec, ...] = (
    ("db_connections", "Database connections",
     "Client backends per variant (max per second) against max_connections; grey: users.",
     _connections),
    ("errors", "Errors per second", "Failed requests per second, stacked by error kind.",
     _errors),
    ("latency", "Latency over time", "p50, p95 and p99 latency per 1-second bin.", _latency),
    ("throughput", "Throughput", "Successful (solid) and failed (dotted) requests per second.",
     _throughput),
    ("pooler", "PgBouncer queue",
     "Clients waiting for a server connection, and server connections in use.", _pooler),
    ("platform", "Serverless instances",
     "Live instances by state (stacked) and cold starts per second.", _platform),
    ("latency_cdf", "Latency distribution",
     "Share of requests answered within a given latency (all requests of the run).", _cdf),
)


def _save(fig: Figure, svg_path: Path, png_path: Path) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg_path.write_bytes(svg)
    fig.savefig(png_path, format="png", dpi=PNG_DPI, metadata={"Software": None})
    return svg


def _mark_faults(fig: Figure, series: Sequence[VariantSeries]) -> None:
    """Shade each injected fault on every time axis of ``fig`` and name it once."""
    faults = sorted({f for s in series for f in s.faults})
    if not faults:
        return
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        for start, end, _ in faults:
            ax.axvspan(start, max(end, start + 0.15), color="#7c3aed", alpha=0.12, lw=0)
            ax.axvline(start, color="#7c3aed", lw=0.9, ls=":")
    top = fig.axes[0]
    for start, _, kind in faults:
        top.annotate(f"⚡ {kind}", (start, 1.0), xycoords=("data", "axes fraction"),
                     va="bottom", ha="left", fontsize=7.5, color="#7c3aed")


def write_charts(series: Sequence[VariantSeries], out_dir: Path) -> list[Chart]:
    """Draw every applicable chart; write ``<name>.svg`` and ``<name>.png`` in ``out_dir``."""
    if not series:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    charts: list[Chart] = []
    with matplotlib.rc_context(cast(Any, STYLE)):
        for name, title, caption, draw in SPECS:
            fig = draw(series)
            if fig is None:
                continue
            if name != "latency_cdf":
                _mark_faults(fig, series)
            svg_path, png_path = out_dir / f"{name}.svg", out_dir / f"{name}.png"
            svg = _save(fig, svg_path, png_path)
            width, height = (round(x * 100) for x in fig.get_size_inches())
            charts.append(Chart(name, title, caption, svg, svg_path, png_path, width, height))
    return charts
