"""The setting that holds, computed from what was measured: max instances, pool sizes, each
in the platform's own terms, and the what-if table (computed, not measured)."""

from __future__ import annotations

import pytest

from harness.analysis.recommend import TargetFacts, facts_of, recommend, what_if
from harness.results.limit import headroom_of, parse_headroom
from harness.scenario.loader import parse_scenario

LAMBDA = TargetFacts(target="serverless", pooler="none", max_connections=30,
                     preset="aws-lambda", db_client="pool", pool_max=3)


def test_max_instances_keep_the_apps_connections_under_usable_minus_headroom() -> None:
    advice = recommend(LAMBDA, reserved=3, headroom_setting="10%", cpi=3.0, instances=10)
    assert advice is not None
    assert (advice.limit, advice.headroom, advice.budget) == (27, 3, 24)
    assert advice.max_instances == 8  # 8 × 3 = 24 ≤ 27 − 3
    assert advice.max_instances_text.startswith("Lambda reserved concurrency 8 (aws lambda "
                                                "put-function-concurrency")
    assert "3 headroom" in advice.max_instances_text
    assert advice.pool_size == 2  # 10 instances × 2 ≤ 24
    assert "per-instance pool size 2 at the 10 instances observed" in advice.pool_size_text


@pytest.mark.parametrize(("preset", "name"), [
    ("cloud-run", "Cloud Run max instances 8"), ("knative", "Knative max-scale 8"),
    ("vercel-fluid", "Vercel Fluid max concurrency 8"), ("", "max_instances 8"),
])
def test_each_platform_gets_its_own_words(preset: str, name: str) -> None:
    facts = TargetFacts(target="serverless", pooler="none", max_connections=30, preset=preset)
    advice = recommend(facts, 3, "10%", 3.0, 10)
    assert advice is not None and advice.max_instances_text.startswith(name)


def test_with_pgbouncer_the_limit_is_its_client_limit_and_the_pool_its_pool_size() -> None:
    facts = TargetFacts(target="serverless", pooler="pgbouncer", max_connections=30,
                        pooler_pool_size=20, max_client_conn=100)
    advice = recommend(facts, 3, "10%", 2.0, 40)
    assert advice is not None
    assert (advice.limit, advice.headroom, advice.max_instances) == (100, 10, 45)
    assert advice.limit_name == "PgBouncer's max_client_conn"
    assert advice.pool_size == 24 and advice.pool_size_text.startswith("PgBouncer pool_size 24")


def test_what_does_not_fit_is_said_not_guessed() -> None:
    pgpool = TargetFacts(target="serverless", pooler="pgpool", max_connections=30,
                         num_init_children=8)
    advice = recommend(pgpool, 3, "10%", 2.0, 40)
    assert advice is not None and advice.max_instances is None
    assert "pgpool-II makes clients beyond num_init_children wait" in advice.max_instances_text
    assert advice.pool_size == 3  # 8 children × 3 ≤ 24
    crowded = recommend(LAMBDA, 3, "10%", cpi=30.0, instances=30)
    assert crowded is not None and crowded.max_instances is None and crowded.pool_size is None
    assert crowded.max_instances_text.startswith("not even one instance fits")
    assert "cap the instances, or put a pooler in front" in crowded.pool_size_text
    unmeasured = recommend(LAMBDA, 3, "10%", cpi=None, instances=None)
    assert unmeasured is not None and unmeasured.max_instances is None
    persistent = TargetFacts(target="persistent", pooler="none", max_connections=30)
    assert recommend(persistent, 3, "10%", 3.0, 1) is None


def test_headroom_is_a_share_rounded_up_or_a_count() -> None:
    assert [headroom_of("10%", n) for n in (27, 97, 5, 0)] == [3, 10, 1, 0]
    assert headroom_of("0%", 97) == 0 and headroom_of("4", 97) == 4
    assert [parse_headroom(v) for v in ("10%", "12.5 %", 3, "7")] == ["10%", "12.5%", "3", "7"]
    for bad in ("100%", "-1", -1, True, "ten", 1.5):
        with pytest.raises(ValueError, match="expected a number of connections"):
            parse_headroom(bad)


def test_the_what_if_table() -> None:
    rows = dict(what_if(reserved=3, headroom_setting="10%"))
    # usable 97 − 10 headroom = 87; 197 − 20 = 177; 497 − 50 = 447
    assert rows == {100: (87, 17, 8), 200: (177, 35, 17), 500: (447, 89, 44)}


def test_facts_come_from_a_variants_recorded_configuration() -> None:
    scenario = parse_scenario({
        "load": {"endpoints": {"read": 1}, "stages": [{"duration": "1s", "users": 1}]},
        "database": {"max_connections": 40},
        "target": {"serverless": {"preset": "cloud-run", "db_client": "pool", "pool_max": 4}},
        "pooler": {"pgbouncer": {"pool_size": 7}},
        "variants": [{"name": "a", "target": "serverless", "pooler": "pgbouncer"}],
    }, "x.toml")
    facts = facts_of(scenario.variants[0].target_config())
    assert facts == TargetFacts(target="serverless", pooler="pgbouncer", max_connections=40,
                                preset="cloud-run", instance_concurrency=80,
                                max_instances=100, db_client="pool", pool_max=4,
                                pooler_pool_size=7, max_client_conn=2000)
