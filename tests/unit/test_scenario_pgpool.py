"""``pooler = "pgpool"``: [pooler.pgpool] and pooler_overrides parsed into PgpoolSpec; the
docker runtime refuses it up front; the leak-probe endpoints are scenario endpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.scenario import Scenario, load_scenario
from harness.services.registry import POOLERS_OF, check_supported

TEXT = """
name = "t"
[load]
endpoints = { read = 0.5, set_state = 0.25, read_state = 0.25 }
stages = [{ duration = "5s", users = 3, spawn_rate = 3 }]
[pooler.pgpool]
num_init_children = 6
max_pool = 2
child_life_time = "2m"
client_idle_limit = "10s"
[[variants]]
name = "a"
pooler = "pgpool"
[[variants]]
name = "b"
pooler = "pgpool"
pooler_overrides = { num_init_children = 3, connection_life_time = "30s" }
"""


def load(tmp_path: Path, text: str = TEXT) -> Scenario:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return load_scenario(path)


def test_pgpool_section_and_overrides(tmp_path: Path) -> None:
    a, b = load(tmp_path).variants
    assert (a.pooler.kind, a.pooler.num_init_children, a.pooler.max_pool) == ("pgpool", 6, 2)
    assert (a.pooler.child_life_time_s, a.pooler.client_idle_limit_s) == (120.0, 10.0)
    assert (b.pooler.num_init_children, b.pooler.max_pool) == (3, 2)
    assert b.pooler.connection_life_time_s == 30.0
    assert a.target_config()["pgpool"]["num_init_children"] == 6
    assert "pgbouncer" not in a.target_config()
    assert {r.path for r in a.requests} == {"/read", "/set_state", "/read_state"}


def test_pgbouncer_keys_are_not_pgpool_keys(tmp_path: Path) -> None:
    bad = TEXT.replace("num_init_children = 3,", "pool_size = 3,")
    with pytest.raises(ScenarioError, match="pool_size"):
        load(tmp_path, bad)


def test_unknown_pgpool_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="max_pools"):
        load(tmp_path, TEXT.replace("max_pool = 2", "max_pools = 2"))


def test_both_runtimes_run_pgpool(tmp_path: Path) -> None:
    scenario = load(tmp_path)
    check_supported("process", scenario)
    assert "pgpool" in POOLERS_OF["docker"]  # pgstampede/pgpool (checked when the run starts)
