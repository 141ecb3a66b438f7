"""Synthetic run folders that follow ``docs/internals.md``, for tests and benchmarks (test-only
code: not part of the package).

The numbers imitate the phenomenon the harness measures (a serverless variant that
exhausts ``max_connections``, poolers that queue instead), so a report built from them
looks like a real one. Output is deterministic for a given seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis.frames import coerce_frame

POOL_SIZE = 20
RESERVED = 3


@dataclass(frozen=True)
class SyntheticVariant:
    name: str
    target: str
    pooler: str


DEFAULT_VARIANTS: tuple[SyntheticVariant, ...] = (
    SyntheticVariant("persistent", "persistent", "none"),
    SyntheticVariant("persistent+pgbouncer", "persistent", "pgbouncer"),
    SyntheticVariant("serverless", "serverless", "none"),
    SyntheticVariant("serverless+pgbouncer", "serverless", "pgbouncer"),
)

ENDPOINTS = ("/read", "/write", "/counter", "/background", "/slow")
ENDPOINT_WEIGHTS = (0.6, 0.15, 0.1, 0.1, 0.05)


@dataclass(frozen=True)
class RunShape:
    requests_per_variant: int = 20_000
    duration_s: float = 60.0
    max_connections: int = 100
    repeats: int = 1
    seed: int = 7
    status: str = "complete"
    saturated: bool = False
    started: float = 1_700_000_000.0


def _users(seconds: np.ndarray, duration: float) -> np.ndarray:
    """The stage curve: 10 users, a ramp to 150 (spawn 50/s), back to 10."""
    a, b = 0.2 * duration, 0.8 * duration
    up = np.clip(10 + 50 * (seconds - a), 10, 150)
    return np.where(seconds < a, 10.0, np.where(seconds < b, up, 10.0))


def _stages(load_start: float, duration: float) -> list[dict[str, float]]:
    a, b = 0.2 * duration, 0.8 * duration
    return [
        {"start": load_start, "end": load_start + a, "users": 10, "spawn_rate": 10},
        {"start": load_start + a, "end": load_start + b, "users": 150, "spawn_rate": 50},
        {"start": load_start + b, "end": load_start + duration, "users": 10, "spawn_rate": 50},
    ]


def _instances(seconds: np.ndarray, duration: float) -> np.ndarray:
    """Live serverless instances: the running maximum of users (frozen ones stay)."""
    return np.maximum.accumulate(_users(seconds, duration))


def _requests(v: SyntheticVariant, shape: RunShape, rng: np.random.Generator,
              load_start: float) -> pd.DataFrame:
    dur = shape.duration_s
    secs = np.arange(int(dur), dtype="float64")
    weights = _users(secs, dur)
    per_sec = rng.multinomial(shape.requests_per_variant, weights / weights.sum())
    rel = np.repeat(secs, per_sec) + rng.random(shape.requests_per_variant)
    rel.sort()
    users = _users(rel, dur)
    cap = shape.max_connections - RESERVED
    base = 2.0 if v.pooler == "none" else 3.0
    queueing = 1.0 + np.maximum(users - POOL_SIZE, 0) / 25.0
    latency = rng.lognormal(np.log(base), 0.45, rel.size) * queueing
    kind = np.full(rel.size, "", dtype=object)
    if v.target == "serverless" and v.pooler == "none":
        live = _instances(rel, dur)
        refused = rng.random(rel.size) < np.maximum(live - cap, 0) / live
        kind[refused] = "db_too_many_connections"
        latency[refused] = rng.lognormal(np.log(2.0), 0.3, int(refused.sum()))
    endpoint = rng.choice(np.array(ENDPOINTS), rel.size, p=ENDPOINT_WEIGHTS)
    status = np.where(kind == "", 200, 503)
    if v.target == "serverless":
        live = _instances(rel, dur).astype("int64")
        inst = np.floor(rng.random(rel.size) * live).astype("int64")
        instance = np.char.add("i-", inst.astype(str))
    else:
        instance = np.full(rel.size, "pid-4242")
    frame = pd.DataFrame({"t": load_start + rel, "endpoint": endpoint, "latency_ms": latency,
                          "status": status, "kind": kind.astype(str), "instance": instance})
    is_counter = (frame["endpoint"] == "/counter") & (frame["kind"] == "")
    frame["counter"] = -1
    frame.loc[is_counter, "counter"] = frame[is_counter].groupby("instance").cumcount() + 1
    return coerce_frame("requests", frame)


def _db(v: SyntheticVariant, shape: RunShape, rng: np.random.Generator,
        t: np.ndarray, rel: np.ndarray) -> pd.DataFrame:
    cap = shape.max_connections - RESERVED
    if v.pooler == "pgbouncer":
        total = np.minimum(_users(rel, shape.duration_s), POOL_SIZE)
    elif v.target == "persistent":
        total = np.full(rel.size, float(POOL_SIZE))
    else:
        total = np.minimum(_instances(rel, shape.duration_s), cap)
    total = np.where(rel < 0, 2, total).astype("int64")
    active = np.minimum(total, rng.poisson(np.minimum(total, 12) + 0.1))
    return coerce_frame("db", pd.DataFrame({
        "t": t, "total": total, "active": active, "idle": total - active,
        "idle_in_transaction": 0, "other": 0}))


def _pglog(db: pd.DataFrame, requests: pd.DataFrame) -> pd.DataFrame:
    grown = np.diff(db["total"].to_numpy(), prepend=0).clip(min=0)
    t_auth = np.repeat(db["t"].to_numpy(), grown)
    refused_t = requests.loc[requests["kind"] == "db_too_many_connections", "t"].to_numpy()
    t = np.concatenate([t_auth, refused_t])
    event = ["authorized"] * t_auth.size + ["refused"] * refused_t.size
    message = ["connection authorized: user=app database=app"] * t_auth.size + [
        "FATAL:  sorry, too many clients already"] * refused_t.size
    frame = pd.DataFrame({"t": t, "event": event, "pid": np.arange(t.size) + 1000,
                          "user": ["app"] * t_auth.size + [""] * refused_t.size,
                          "message": message}).sort_values("t")
    return coerce_frame("pglog", frame)


def _pooler(shape: RunShape, rng: np.random.Generator, t: np.ndarray,
            rel: np.ndarray) -> pd.DataFrame:
    users = np.where(rel < 0, 0, _users(rel, shape.duration_s))
    waiting = np.maximum(users - POOL_SIZE, 0) * rng.uniform(0.1, 0.4, rel.size)
    return coerce_frame("pooler", pd.DataFrame({
        "t": t, "database": "app", "user": "app", "cl_active": np.minimum(users, POOL_SIZE),
        "cl_waiting": waiting.astype("int64"), "sv_active": np.minimum(users, POOL_SIZE),
        "sv_idle": 0, "sv_used": 0, "sv_login": 0, "maxwait_ms": waiting * 4.0}))


def _platform(shape: RunShape, rng: np.random.Generator, t: np.ndarray,
              rel: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    live = np.where(rel < 0, 0, _instances(rel, shape.duration_s)).astype("int64")
    busy = np.minimum(live, rng.poisson(6, rel.size))
    frozen = live - busy
    born = np.diff(live, prepend=0).clip(min=0)
    platform = pd.DataFrame({
        "t": t, "starting": 0, "busy": busy, "warm": 0, "frozen": frozen, "zombie": 0,
        "queue": 0, "cold_starts": np.cumsum(born), "reaped": 0, "throttled": 0})
    t_cold = np.repeat(t, born)
    cold = pd.DataFrame({"t": t_cold, "instance": [f"i-{i}" for i in range(t_cold.size)],
                         "duration_ms": rng.lognormal(np.log(30.0), 0.3, t_cold.size)})
    return coerce_frame("platform", platform), coerce_frame("cold_starts", cold)


def _host(v: SyntheticVariant, shape: RunShape, rng: np.random.Generator,
          load_start: float) -> pd.DataFrame:
    t = load_start + np.arange(-2, int(shape.duration_s) + 2, dtype="float64")
    roles = ["postgres", "target", "locust"] + (["pgbouncer"] if v.pooler != "none" else [])
    if v.target == "serverless":
        roles += ["gateway", "instances"]
    rows = []
    for role in roles:
        cpu = rng.uniform(95, 99, t.size) if role == "locust" and shape.saturated else \
            rng.uniform(20, 70, t.size)
        rss = rng.uniform(40, 60, t.size) * (30 if role == "instances" else 1)
        rows.append(pd.DataFrame({"t": t, "role": role, "cpu_percent": cpu, "rss_mb": rss,
                                  "processes": 1}))
    return coerce_frame("host", pd.concat(rows, ignore_index=True))


def _background(v: SyntheticVariant, requests: pd.DataFrame,
                rng: np.random.Generator) -> pd.DataFrame:
    jobs = requests[(requests["endpoint"] == "/background") & (requests["kind"] == "")]
    scheduled = jobs["t"].to_numpy()
    due = scheduled + 0.1
    completed = due + rng.uniform(0.001, 0.02, due.size)
    if v.target == "serverless":
        fate = rng.random(due.size)
        completed = np.where(fate < 0.3, due + rng.uniform(0.5, 5.0, due.size), completed)
        completed = np.where(fate > 0.9, np.nan, completed)
    return coerce_frame("background", pd.DataFrame({
        "id": np.arange(due.size) + 1, "instance": jobs["instance"].to_numpy(),
        "scheduled_at": scheduled, "due_at": due, "completed_at": completed}))


def _write_variant_run(v: SyntheticVariant, shape: RunShape, folder: Path,
                       load_start: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    requests = _requests(v, shape, rng, load_start)
    t = load_start + np.arange(-1.0, shape.duration_s + 1.0, 0.1)
    rel = t - load_start
    frames = {"requests": requests, "db": _db(v, shape, rng, t, rel), "host":
              _host(v, shape, rng, load_start), "background": _background(v, requests, rng)}
    frames["pglog"] = _pglog(frames["db"], requests)
    if v.pooler != "none":
        frames["pooler"] = _pooler(shape, rng, t, rel)
    if v.target == "serverless":
        frames["platform"], frames["cold_starts"] = _platform(shape, rng, t, rel)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "logs").mkdir(exist_ok=True)
    (folder / "logs" / "postgres.log").write_text("2023-11-14 22:13:20.000 UTC [1000] LOG: "
                                                  "database system is ready\n")
    (folder / "locust").mkdir(exist_ok=True)
    (folder / "locust" / "stats.csv").write_text("Type,Name,Request Count\nGET,/read,1\n")


def write_run(run_dir: Path, shape: RunShape = RunShape(),
              variants: tuple[SyntheticVariant, ...] = DEFAULT_VARIANTS) -> Path:
    """Write a synthetic run folder (manifest + frames of every variant run)."""
    entries = []
    clock = shape.started
    for index, v in enumerate(variants):
        for repeat in range(1, shape.repeats + 1):
            load_start = clock + 5.0
            rel_dir = f"{v.name}/{repeat}"
            seed = shape.seed * 1000 + index * 10 + repeat
            _write_variant_run(v, shape, run_dir / rel_dir, load_start, seed)
            entries.append({
                "name": v.name, "repeat": repeat, "dir": rel_dir, "status": "complete",
                "load_start": load_start, "load_end": load_start + shape.duration_s,
                "stages": _stages(load_start, shape.duration_s),
                "max_connections": shape.max_connections, "pooler": v.pooler,
                "target": v.target, "error": None,
                "versions": {"postgresql": "15.5"} | (
                    {"pgbouncer": "1.18.0"} if v.pooler != "none" else {}),
                "config": {"target": {"pool_max": POOL_SIZE, "background_delay_s": 0.1},
                           "pooler": {"pool_mode": "transaction", "pool_size": POOL_SIZE}
                           if v.pooler != "none" else {}},
            })
            clock = load_start + shape.duration_s + 5.0
    if shape.status != "complete" and entries:
        entries[-1]["status"] = shape.status
        entries[-1]["error"] = "interrupted by SIGINT"
    manifest = {
        "schema_version": 1, "status": shape.status,
        "scenario": {"name": "synthetic", "description": "Synthetic spike: 10 → 150 users",
                     "repeats": shape.repeats,
                     "database": {"max_connections": shape.max_connections},
                     "variants": [{"name": v.name, "target": v.target, "pooler": v.pooler}
                                  for v in variants]},
        "versions": {"python": "3.11.2", "locust": "2.24.0", "pgstampede": "0.1.0"},
        "machine": {"cores": 2, "memory_gb": 24, "os": "Debian 12"},
        "durability": {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"},
        "started": shape.started, "ended": clock, "variants": entries,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return run_dir
