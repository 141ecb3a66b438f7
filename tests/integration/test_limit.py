"""``pgstampede limit`` against real PostgreSQL, the platform emulator and Locust (issue 21):

- the built-in serverless target with a per-instance pool of 3 on ``max_connections = 30``
  (27 usable) breaks within one instance of 27 / 3 = 9, and its connections per instance are
  within 10% of the pool; the recommended max instances hold when ``--verify`` runs them at
  the load that broke it;
- the same target rejecting requests beyond max instances (``when_full = "reject"``): its
  recommendation does not hold (the capped platform answers 429), and is withdrawn;
- a persistent server with a bounded pool holds to ``max_users``;
- the run folder is a normal one: ``report`` rebuilds it, ``check`` gates on ``limit.*``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.pipeline_helpers import metrics, read_json, run_cli, write_scenario

pytestmark = pytest.mark.integration

POOL = 3
USABLE = 27  # max_connections 30 - 3 slots reserved for superusers
SCENARIO = f"""
name = "limits"
[database]
max_connections = 30
[load]
endpoints = {{ read = 1.0 }}
stages = [{{ duration = "2s", users = 2 }}]
[target.serverless]
db_client = "pool"
pool_max = {POOL}
[target.persistent]
pool_min = 1
pool_max = 5
[limit]
max_users = 16
step = 4
step_duration = "2s"
verify = true
[[variants]]
name = "lambda"
target = "serverless"
[[variants]]
name = "throttled"
target = "serverless"
target_overrides = {{ when_full = "reject" }}
[[variants]]
name = "persistent"
target = "persistent"
[thresholds]
"lambda.limit.users" = ">= 5"
"lambda.limit.verified" = "== 1"
"*.db.refused" = "== 0"
"""


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    folder = tmp_path_factory.mktemp("limit")
    out = folder / "run"
    result = run_cli("limit", str(write_scenario(folder, SCENARIO)), "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return out, result


def test_serverless_breaks_at_usable_over_pool_and_the_advice_holds(
        searched: tuple[Path, Any]) -> None:
    out, result = searched
    m = metrics(out, "lambda")
    assert m["limit.reached"] is True
    assert abs(m["limit.instances"] - USABLE / POOL) <= 1, m
    assert m["limit.connections_per_instance"] == pytest.approx(POOL, rel=0.10)
    assert m["limit.recommended_max_instances"] == (USABLE - 3) // POOL  # 3 of headroom
    assert m["limit.verified"] is True
    assert m["limit.rps"] > 0 and m["limit.db_connections"] <= USABLE
    # a live line per step, with its verdict
    assert "lambda step 1/4  users 4" in result.stdout and "→ held" in result.stdout
    assert "→ broke: " in result.stdout


def test_a_recommendation_that_does_not_hold_is_withdrawn(searched: tuple[Path, Any]) -> None:
    out, _ = searched
    summary = read_json(out / "summary.json")
    throttled = summary["variants"]["throttled"]
    assert throttled["metrics"]["limit.verified"] is False
    assert throttled["metrics"]["limit.recommended_max_instances"] is None
    why = throttled["nulls"]["limit.recommended_max_instances"]["why"]
    assert why.startswith("withdrawn: at ") and "it broke: errors" in why
    assert any(f.startswith("throttled: recommendation withdrawn") for f in summary["findings"])


def test_a_bounded_pool_holds_to_max_users(searched: tuple[Path, Any]) -> None:
    out, _ = searched
    m = metrics(out, "persistent")
    assert (m["limit.reached"], m["limit.users"]) == (False, 16)
    assert m["limit.db_connections"] <= 5
    limit = read_json(out / "limit.json")
    persistent = next(v for v in limit["variants"] if v["name"] == "persistent")
    assert [p["kind"] for p in persistent["probes"]] == ["ramp"]


def test_the_folder_is_a_normal_run_folder_gated_on_limit_metrics(
        searched: tuple[Path, Any], tmp_path: Path) -> None:
    out, _ = searched
    report = run_cli("report", str(out))
    assert report.returncode == 0, report.stderr
    assert "pgstampede limit · " in report.stdout  # the limit table, not the run table
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "Breaking point" in html and "What if (computed, not measured)" in html
    check = run_cli("check", str(out), "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    verdict = json.loads(check.stdout)
    judged = {t["expr"]: t["status"] for t in verdict["thresholds"]}
    # a limit run is judged on its limit.* thresholds only: run's (no refusal) are not kept
    assert judged == {"lambda.limit.users >= 5": "pass", "lambda.limit.verified == 1": "pass"}
