"""Synthetic run folders that follow ``docs/internals.md``, for tests and benchmarks (test-only
code: not part of the package).

The numbers imitate the phenomenon the harness measures (a serverless variant that
exhausts ``max_connections``, poolers that queue instead), so a report built from them
looks like a real one. Output is deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.results.check_spec import CheckSpec
from harness.results.folder import RunFolder
from harness.results.frames import coerce_frame
from harness.results.records import (
    SCHEMA_VERSION,
    CollectorHealth,
    Manifest,
    RunStatus,
    ScenarioCopy,
    StageWindow,
    VariantRecord,
)
from harness.results.summary import VariantSummary

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
    status: RunStatus = "complete"
    saturated: bool = False
    started: float = 1_700_000_000.0


def _users(seconds: np.ndarray, duration: float) -> np.ndarray:
    """The stage curve: 10 users, a ramp to 150 (spawn 50/s), back to 10."""
    a, b = 0.2 * duration, 0.8 * duration
    up = np.clip(10 + 50 * (seconds - a), 10, 150)
    return np.where(seconds < a, 10.0, np.where(seconds < b, up, 10.0))


def _stages(load_start: float, duration: float) -> tuple[StageWindow, ...]:
    a, b = 0.2 * duration, 0.8 * duration
    return (
        StageWindow(start=load_start, end=load_start + a, users=10, spawn_rate=10),
        StageWindow(start=load_start + a, end=load_start + b, users=150, spawn_rate=50),
        StageWindow(start=load_start + b, end=load_start + duration, users=10, spawn_rate=50),
    )


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
        "queue": 0, "cold_starts": np.cumsum(born), "reaped": 0, "throttled": 0,
        "init_failures": 0, "background_pending": 0, "background_completed": 0,
        "background_delayed": 0, "background_lost": 0, "init_error": ""})
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
                                  "processes": 1, "wait_percent": 0.0}))
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


INTERVAL_S = 0.1


def healthy(name: str, samples: int, interval_s: float = INTERVAL_S) -> CollectorHealth:
    """The health record of a collector that took every sample."""
    return CollectorHealth(name=name, interval_s=interval_s, expected=samples,
                           samples=samples, failures=0, first_error="", first_error_t=None,
                           longest_gap_s=interval_s,
                           read_to_end=True if name == "pg_log" else None)


def _write_variant_run(v: SyntheticVariant, shape: RunShape, run: RunFolder, rel_dir: str,
                       load_start: float, seed: int) -> VariantRecord:
    rng = np.random.default_rng(seed)
    requests = _requests(v, shape, rng, load_start)
    t = load_start + np.arange(-1.0, shape.duration_s + 1.0, INTERVAL_S)
    rel = t - load_start
    frames = {"requests": requests, "db": _db(v, shape, rng, t, rel), "host":
              _host(v, shape, rng, load_start), "background": _background(v, requests, rng)}
    frames["pglog"] = _pglog(frames["db"], requests)
    if v.pooler != "none":
        frames["pooler"] = _pooler(shape, rng, t, rel)
    if v.target == "serverless":
        frames["platform"], frames["cold_starts"] = _platform(shape, rng, t, rel)
    files = tuple(run.write_frame(rel_dir, name, frame) for name, frame in frames.items())
    folder = run.path / rel_dir
    (folder / "logs").mkdir(exist_ok=True)
    (folder / "logs" / "postgres.log").write_text("2023-11-14 22:13:20.000 UTC [1000] LOG: "
                                                  "database system is ready\n")
    (folder / "locust").mkdir(exist_ok=True)
    (folder / "locust" / "stats.csv").write_text("Type,Name,Request Count\nGET,/read,1\n")
    return VariantRecord(
        name=v.name, repeat=int(rel_dir.rsplit("/", 1)[1]), dir=rel_dir, status="complete",
        error=None, target=v.target, pooler=v.pooler, max_connections=shape.max_connections,
        background_delay_s=0.1, observes_server_log=True, collect_interval_s=INTERVAL_S,
        load_start=load_start, load_end=load_start + shape.duration_s,
        stages=_stages(load_start, shape.duration_s),
        config={"target": {"pool_max": POOL_SIZE, "background_delay_s": 0.1},
                "pooler": {"pool_mode": "transaction", "pool_size": POOL_SIZE}
                if v.pooler != "none" else {}},
        versions={"postgresql": "15.5"} | ({"pgbouncer": "1.18.0"} if v.pooler != "none"
                                           else {}),
        durability={"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"},
        target_info={}, faults=(), frames=files,
        health=(healthy("pg_activity", len(t)), healthy("pg_log", len(t)),
                healthy("host", len(t))),
        problems=())


def write_run(run_dir: Path, shape: RunShape = RunShape(),
              variants: tuple[SyntheticVariant, ...] = DEFAULT_VARIANTS,
              check: CheckSpec | None = None, name: str = "synthetic",
              declared: tuple[str, ...] | None = None) -> Path:
    """Write a synthetic run folder (manifest + frames of every variant run)."""
    run = RunFolder(run_dir)
    records = []
    clock = shape.started
    for index, v in enumerate(variants):
        for repeat in range(1, shape.repeats + 1):
            load_start = clock + 5.0
            seed = shape.seed * 1000 + index * 10 + repeat
            records.append(_write_variant_run(v, shape, run, f"{v.name}/{repeat}", load_start,
                                              seed))
            clock = load_start + shape.duration_s + 5.0
    if shape.status != "complete" and records:
        records[-1] = replace(records[-1], status=shape.status, error="interrupted by SIGINT")
    names = tuple(v.name for v in variants)
    manifest = Manifest(
        schema_version=SCHEMA_VERSION, status=shape.status, error=None,
        scenario=ScenarioCopy(
            name=name, description="Synthetic spike: 10 → 150 users", path="",
            repeats=shape.repeats, variants=declared or names, check=check or CheckSpec(),
            source={"name": name,
                    "database": {"max_connections": shape.max_connections},
                    "variants": [{"name": v.name, "target": v.target, "pooler": v.pooler}
                                 for v in variants]}),
        runtime="process", runtime_info={"name": "process"},
        versions={"python": "3.11.2", "locust": "2.24.0", "pgstampede": "0.1.0"},
        machine={"cores": 2, "memory_gb": 24, "os": "Debian 12", "cpu_model": "Synthetic CPU",
                 "machine_id": "synthetic-machine", "machine_id_source": "named"},
        durability={"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"},
        started=shape.started, ended=clock, planned=names, variants=tuple(records))
    run.write_manifest(manifest)
    return run_dir


def bare_record(name: str, **changes: object) -> VariantRecord:
    """A variant record with nothing measured yet (tests set what they need)."""
    record = VariantRecord(
        name=name, repeat=1, dir=f"{name}/1", status="complete", error=None,
        target="persistent", pooler="none", max_connections=100, background_delay_s=0.2,
        observes_server_log=True, collect_interval_s=INTERVAL_S, load_start=None,
        load_end=None, stages=(), config={}, versions={}, durability={}, target_info={},
        faults=(), frames=(), health=(), problems=())
    return replace(record, **changes)  # type: ignore[arg-type]


def variant_summary(metrics: dict[str, Any], status: str = "complete",
                    pooler: str = "none") -> VariantSummary:
    """A variant's summary holding ``metrics`` only (for findings and tables)."""
    return VariantSummary(status=status, error=None, target="persistent", pooler=pooler,
                          max_connections=100, metrics=metrics, nulls={},
                          repeats=(metrics,), stages=(), faults=(), problems=())
