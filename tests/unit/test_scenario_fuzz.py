"""Property: any scenario input either loads or raises the harness's own ScenarioError."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import ScenarioError
from harness.scenario import parse_scenario

BASE = tomllib.loads((Path(__file__).parents[2] / "scenarios" / "quickstart.toml").read_text())

KEYS = ["name", "description", "repeats", "database", "load", "target", "pooler", "collect",
        "variants", "thresholds", "check", "max_connections", "settings", "think_time",
        "endpoints", "slow_ms", "stages", "processes", "duration", "users", "spawn_rate",
        "persistent", "serverless", "pgbouncer", "pool_max", "pool_min", "pool_size",
        "pool_mode", "idle_timeout", "reap", "freeze", "target_overrides", "pooler_overrides",
        "read", "write", "slow", "interval", "min_change", "url", "watch_dsn", "paths",
        "*.latency.p95_ms", "a.http.error_rate"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(["30s", "250ms", "2m", "-1s", "< 200ms", "== 0",
                                           "kill", "abandon", "transaction", "persistent",
                                           "serverless", "pgbouncer", "none", "GET /x"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=20,
)


def mutate(base: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    out = dict(base)
    cursor = out
    for key in path[:-1]:
        nxt = cursor.get(key)
        nxt = dict(nxt) if isinstance(nxt, dict) else {}
        cursor[key] = nxt
        cursor = nxt
    cursor[path[-1]] = value
    return out


def loads_or_scenario_error(data: Any) -> None:
    try:
        scenario = parse_scenario(data, "fuzz.toml")
    except ScenarioError as exc:
        assert str(exc).startswith("fuzz.toml")
        assert "\n" not in str(exc)
        return
    load = scenario.load
    assert all(math.isfinite(s.duration_s) and s.duration_s > 0 for s in load.stages)
    assert all(math.isfinite(s.spawn_rate) and s.spawn_rate > 0 for s in load.stages)
    assert all(math.isfinite(r.weight) and r.weight >= 0 for r in load.requests)
    assert all(math.isfinite(t) for t in load.think_time_s)
    assert scenario.variants and 0.01 <= scenario.collect_interval_s <= 60


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # examples: conftest
@given(path=st.lists(st.sampled_from(KEYS), min_size=1, max_size=3), value=values)
def test_mutated_quickstart(path: list[str], value: Any) -> None:
    loads_or_scenario_error(mutate(BASE, path, value))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.dictionaries(st.sampled_from(KEYS), values, max_size=8))
def test_random_documents(data: dict[str, Any]) -> None:
    loads_or_scenario_error(data)
