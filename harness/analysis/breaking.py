"""One step of a breaking-point search, measured and judged (pure pandas).

``pgstampede limit`` judges each step of its probes with these functions, live while the
load runs (from the request log read so far and the collectors' gauges) and the analysis
measures the same steps again from the run folder's frames. Both go through one
*gauges* frame, :data:`GAUGE_COLUMNS`: ``t`` (epoch s), ``db_connections`` (client
backends), ``instances`` (live serverless instances, NaN for other targets),
``app_connections`` (the app's connections: to PostgreSQL, or to the pooler when there is
one) and ``refused`` (refusals seen so far: PostgreSQL's 53300 in its log and the pooler's
own, cumulative).

A step breaks when (``LimitSettings.until``):

- ``refused``: a connection was refused (server log, pooler log, or a request failing with
  ``db_too_many_connections`` / ``pooler_full``), or the error budget is spent;
- ``errors``: the error budget is spent (the share of failed requests answered while its
  users were all running is above ``error_budget``);
- ``p95``: the p95 latency of those requests is above the target, or the error budget is
  spent.

A verdict is *clear* when the measure that decided it is far enough from its limit for this
machine's noise: a refusal, or none, is an event (always clear); an error rate must differ
from the budget by more than two binomial standard errors; a p95 must differ from its target
by more than ``p95_noise`` (a share of the target: half the spread of the p95 between
identical runs, measured by ``benchmarks/check_noise.py``) and the target must lie outside
the step's own p95 bounds: the latencies at the ranks ``n·0.95 ± 2·sqrt(n·0.95·0.05)`` of
its ``n`` requests (the distribution-free interval of a quantile from order statistics), so
that a short step with few requests is not called clear on a p95 its sample cannot tell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.frames import platform_live, pooler_totals
from harness.analysis.inflight import in_flight_peak
from harness.results.limit import BreakReason, LimitSettings, StepVerdict

GAUGE_COLUMNS = ("t", "db_connections", "instances", "app_connections", "refused")
REFUSAL_KINDS = ("db_too_many_connections", "pooler_full")
CLEAR_SIGMAS = 2.0


@dataclass(frozen=True)
class StepWindow:
    """A step: its users, when it started, when its users had all spawned, when it ended
    (epoch seconds)."""

    users: int
    start: float
    settled: float
    end: float


@dataclass(frozen=True)
class StepMeasures:
    """What one step measured. Requests are those answered in ``[settled, end]``; gauges
    are the most seen in ``[start, end]``; refusals are counted in ``[start, end]``."""

    users: int
    requests: int
    failures: int
    error_rate: float | None
    p95_ms: float | None
    p95_low_ms: float | None  # the p95's bounds from the step's own sample (module doc)
    p95_high_ms: float | None
    rps: float | None
    in_flight: int | None
    refused: int
    refused_requests: int
    db_connections: float | None
    instances: float | None
    app_connections: float | None


@dataclass(frozen=True)
class Judgement:
    verdict: StepVerdict
    reason: BreakReason
    detail: str
    clear: bool


def empty_gauges() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="float64") for c in GAUGE_COLUMNS})


def _cumulative_at(times: pd.Series, events: pd.Series) -> np.ndarray:
    """How many of ``events`` (times) happened at or before each of ``times``."""
    ordered = np.sort(events.to_numpy(dtype="float64"))
    return np.searchsorted(ordered, times.to_numpy(dtype="float64"), side="right")


def gauges_from_frames(frames: dict[str, pd.DataFrame], pooler: str) -> pd.DataFrame:
    """The gauges frame of a variant run, on the database collector's samples."""
    db = frames["db"]
    if db.empty:
        return empty_gauges()
    out = pd.DataFrame({"t": db["t"].astype("float64").to_numpy(),
                        "db_connections": db["total"].astype("float64").to_numpy()})
    out = out.sort_values("t", kind="stable").reset_index(drop=True)
    platform = frames["platform"]
    if platform.empty:
        out["instances"] = np.nan
    else:
        live = pd.DataFrame({"t": platform["t"].astype("float64"),
                             "instances": platform_live(platform).astype("float64")})
        out = pd.merge_asof(out, live.sort_values("t"), on="t", direction="backward")
    out["app_connections"] = out["db_connections"]
    totals = pooler_totals(frames["pooler"]) if pooler != "none" else pd.DataFrame()
    if len(totals):
        clients = (totals["cl_active"] + totals["cl_waiting"]).astype("float64")
        side = pd.DataFrame({"t": clients.index.to_numpy(dtype="float64"),
                             "clients": clients.to_numpy()})
        out = pd.merge_asof(out, side, on="t", direction="backward")
        out["app_connections"] = out.pop("clients")
    refused = pd.concat([frames["pglog"].loc[frames["pglog"]["event"] == "refused", "t"],
                         frames["pooler_log"].loc[frames["pooler_log"]["event"] == "refused",
                                                  "t"]])
    out["refused"] = _cumulative_at(out["t"], refused).astype("float64")
    return out[list(GAUGE_COLUMNS)]


def _answered(requests: pd.DataFrame, start: float, end: float) -> pd.DataFrame:
    done = requests["t"] + requests["latency_ms"] / 1000.0
    return requests[(done >= start) & (done <= end)]


def _peak(gauges: pd.DataFrame, column: str, start: float, end: float) -> float | None:
    inside = gauges.loc[(gauges["t"] >= start) & (gauges["t"] <= end), column].dropna()
    return float(inside.max()) if len(inside) else None


def _refused_between(gauges: pd.DataFrame, start: float, end: float) -> int:
    before = gauges.loc[gauges["t"] < start, "refused"]
    upto = gauges.loc[gauges["t"] <= end, "refused"]
    first = float(before.iloc[-1]) if len(before) else 0.0
    last = float(upto.iloc[-1]) if len(upto) else first
    return max(0, int(last - first))


def measure_step(requests: pd.DataFrame, gauges: pd.DataFrame, window: StepWindow
                 ) -> StepMeasures:
    """The measures of one step (see :class:`StepMeasures`)."""
    answered = _answered(requests, window.settled, window.end)
    n = len(answered)
    failures = int((answered["kind"] != "").sum())
    started = requests[(requests["t"] >= window.start) & (requests["t"] <= window.end)]
    refused_requests = int(started["kind"].isin(REFUSAL_KINDS).sum())
    span = window.end - window.settled
    latency = answered["latency_ms"].to_numpy(dtype="float64")
    low, high = _p95_bounds(latency)
    return StepMeasures(
        users=window.users, requests=n, failures=failures,
        error_rate=failures / n if n else None,
        p95_ms=float(np.quantile(latency, 0.95)) if n else None,
        p95_low_ms=low, p95_high_ms=high,
        rps=n / span if span > 0 else None,
        in_flight=in_flight_peak(started),
        refused=_refused_between(gauges, window.start, window.end),
        refused_requests=refused_requests,
        db_connections=_peak(gauges, "db_connections", window.start, window.end),
        instances=_peak(gauges, "instances", window.start, window.end),
        app_connections=_peak(gauges, "app_connections", window.start, window.end))


def _p95_bounds(latency: np.ndarray) -> tuple[float | None, float | None]:
    """The latencies at ranks ``n·0.95 ± CLEAR_SIGMAS·sqrt(n·0.95·0.05)`` (clipped to the
    sample): the p95's distribution-free bounds from the order statistics of ``n`` requests."""
    n = len(latency)
    if not n:
        return None, None
    ordered = np.sort(latency)
    centre, spread = n * 0.95, CLEAR_SIGMAS * math.sqrt(n * 0.95 * 0.05)
    low = min(max(math.floor(centre - spread), 1), n)
    high = min(max(math.ceil(centre + spread), 1), n)
    return float(ordered[low - 1]), float(ordered[high - 1])


def _error_clear(rate: float, n: int, budget: float) -> bool:
    """Whether ``rate`` over ``n`` requests is more than two standard errors from ``budget``."""
    if budget <= 0:
        return True  # any failure spends a zero budget; none keeps it
    return abs(rate - budget) > CLEAR_SIGMAS * math.sqrt(budget * (1 - budget) / n)


def _share(value: float) -> str:
    return f"{value * 100:.2f}%".replace(".00%", "%")


def judge_step(m: StepMeasures, settings: LimitSettings) -> Judgement:
    """Held or broke, why, and whether the measure was clear of its limit (module doc)."""
    if settings.until == "refused" and (m.refused or m.refused_requests):
        return Judgement("broke", "refused", _refusal_text(m), True)
    if m.requests == 0 or m.error_rate is None:
        return Judgement("held", "", "no request answered once its users ran", False)
    errors_clear = _error_clear(m.error_rate, m.requests, settings.error_budget)
    errors = (f"error rate {_share(m.error_rate)} of {m.requests:,} requests, budget "
              f"{_share(settings.error_budget)}")
    if m.error_rate > settings.error_budget:
        return Judgement("broke", "errors", errors, errors_clear)
    if settings.until == "refused":  # held: no refusal, an event, is clear whatever the n
        return Judgement("held", "", f"no refusal; {errors}", True)
    if settings.until != "p95" or settings.p95_ms is None or m.p95_ms is None:
        return Judgement("held", "", errors, errors_clear)
    target = settings.p95_ms
    outside = (m.p95_low_ms is not None and m.p95_high_ms is not None
               and not m.p95_low_ms <= target <= m.p95_high_ms)
    p95_clear = abs(m.p95_ms / target - 1.0) > settings.p95_noise and outside
    if m.p95_ms > target:
        return Judgement("broke", "p95", f"p95 {m.p95_ms:,.0f} ms, target {target:,.0f} ms",
                         p95_clear)
    return Judgement("held", "", f"p95 {m.p95_ms:,.0f} ms ≤ {target:,.0f} ms; {errors}",
                     errors_clear and p95_clear)


def _refusal_text(m: StepMeasures) -> str:
    parts = []
    if m.refused:
        parts.append(f"{m.refused} connection{'s' if m.refused != 1 else ''} refused")
    if m.refused_requests:
        parts.append(f"{m.refused_requests:,} request{'s' if m.refused_requests != 1 else ''} "
                     "failed with too many connections")
    return ", ".join(parts)
