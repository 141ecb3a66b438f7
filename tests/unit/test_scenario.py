"""Scenario loading: valid files, durations, overrides and every invalid case's message."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InputError, ScenarioError
from harness.run.plan import make_plan
from harness.scenario import NoPooler, PgBouncerSpec, load_scenario
from harness.units import format_duration, parse_duration

SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").glob("*.toml"))

MINIMAL = """
name = "t"
[load]
stages = [{ duration = "5s", users = 3, spawn_rate = 3 }]
[[variants]]
name = "a"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenarios_load(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.description
    assert scenario.variants
    assert scenario.load.duration_s > 0


@pytest.mark.parametrize(("text", "seconds"), [
    ("250ms", 0.25), ("30s", 30.0), ("2m", 120.0), ("1.5s", 1.5), ("1h", 3600.0), (0, 0.0),
])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "5", "5 sec", "-1s", True, None, [1], -3])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_format_duration_round_trips() -> None:
    for seconds in (0.25, 1.0, 30.0, 120.0, 90.0):
        assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


def test_minimal_defaults(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, MINIMAL))
    v = s.variants[0]
    assert (v.target.kind, v.pooler.kind) == ("persistent", "none")
    assert v.database.max_connections == 100
    assert v.target.pool_max == 20
    assert s.load.think_time_s == (0.0, 0.0)
    assert [(r.name, r.method, r.path) for r in s.load.requests] == [("read", "GET", "/read")]
    assert s.collect_interval_s == pytest.approx(0.1)


def test_overrides_apply_per_variant(tmp_path: Path) -> None:
    text = MINIMAL.replace('[[variants]]\nname = "a"\n', "") + """
[load.endpoints]
read = 0.5
slow = 0.5
[target.persistent]
pool_max = 10
[pooler.pgbouncer]
pool_size = 7
[[variants]]
name = "plain"
[[variants]]
name = "pooled"
pooler = "pgbouncer"
target_overrides = { pool_max = 50, pool_size = 3 }
database_overrides = { max_connections = 30 }
[[variants]]
name = "fluid"
target = "serverless"
target_overrides = { instance_concurrency = 10, idle_timeout = "2s" }
"""
    text = text.replace("[load]\n", "[load]\nslow_ms = 75\n")
    s = load_scenario(write(tmp_path, text))
    plain, pooled, fluid = s.variants
    assert plain.target.pool_max == 10 and plain.pooler == NoPooler()
    assert pooled.target.pool_max == 50 and pooled.pooler.pool_size == 3
    assert pooled.database.max_connections == 30 and plain.database.max_connections == 100
    assert fluid.target.instance_concurrency == 10
    assert fluid.target.idle_timeout_s == 2.0
    assert ("slow", "GET", "/slow?ms=75") in [(r.name, r.method, r.path) for r in s.load.requests]


def test_a_pooler_section_applies_to_every_variant_with_that_pooler(tmp_path: Path) -> None:
    text = MINIMAL.replace('name = "a"', 'name = "a"\npooler = "pgbouncer"') \
        + "[pooler.pgbouncer]\npool_size = 7\n"
    pooler = load_scenario(write(tmp_path, text)).variants[0].pooler
    assert isinstance(pooler, PgBouncerSpec) and pooler.pool_size == 7


def test_plan_interleaves_repeats_and_filters(tmp_path: Path) -> None:
    text = MINIMAL.replace('name = "t"', 'name = "t"\nrepeats = 2') + '[[variants]]\nname = "b"\n'
    s = load_scenario(write(tmp_path, text))
    plan = make_plan(s)
    assert [(i.variant.name, i.repeat) for i in plan] == [("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert [i.index for i in plan] == [1, 2, 3, 4] and plan[0].total == 4
    assert [i.variant.name for i in make_plan(s, ["b"])] == ["b", "b"]
    with pytest.raises(InputError, match="unknown variant 'c'"):
        make_plan(s, ["c"])


BAD_CASES = [
    ("name = \n", "invalid TOML"),
    (MINIMAL + "\nbogus = 1\n", "bogus: unknown key"),
    (MINIMAL.replace("users = 3", "users = -3"), "load.stages[0].users: expected an integer >= 0"),
    (MINIMAL.replace('"5s"', '"5 parsecs"'), "load.stages[0].duration: expected a duration"),
    (MINIMAL.replace('duration = "5s", ', ""), "load.stages[0].duration: missing"),
    (MINIMAL.replace("spawn_rate = 3", "spawn_rate = 0"), "spawn_rate: expected a number > 0"),
    (MINIMAL + "[database]\nmax_connections = \"many\"\n", "database.max_connections"),
    (MINIMAL + "[target.persistent]\npool_maxx = 3\n", "target.persistent.pool_maxx: unknown key"),
    (MINIMAL + "[target.serverless]\nreap = \"maybe\"\n",
     "target.serverless.reap: expected one of"),
    (MINIMAL.replace('name = "a"', 'name = "a"\ntarget = "lambda"'), "variants[0].target"),
    (MINIMAL.replace('name = "a"', 'name = "a"\npooler = "pgcat"'), "variants[0].pooler"),
    (MINIMAL + '[[variants]]\nname = "a"\n', "duplicate variant name"),
    (MINIMAL.replace('name = "a"', 'name = "a b"'), "variants[0].name"),
    (MINIMAL.replace("[[variants]]\nname = \"a\"\n", ""), "variants: expected at least one"),
    (MINIMAL.replace("[load]", "[loud]"), "loud: unknown key"),
    (MINIMAL + "[load.endpoints]\nreed = 1\n", "load.endpoints.reed: unknown endpoint"),
    (MINIMAL + "[load.endpoints]\nread = 0\n", "load.endpoints: expected weights that sum"),
    (MINIMAL.replace("[load]", "[load]\nthink_time = [\"2s\", \"1s\"]"), "load.think_time"),
    (MINIMAL + '[thresholds]\n"a.latency.p95_ms" = "about 200"\n', "thresholds"),
    (MINIMAL + '[thresholds]\n"a.latency.p42" = "< 200"\n', "thresholds"),
    (MINIMAL + '[thresholds]\n"zz.latency.p95_ms" = "< 200"\n', "zz"),
    (MINIMAL.replace('name = "a"', 'name = "a"\ntarget_overrides = { nope = 1 }'),
     "variants[0].target_overrides.nope: unknown key"),
    (MINIMAL.replace('name = "a"', 'name = "a"\ntarget = "external"'), "variants[0].url: required"),
    (MINIMAL + "[collect]\ninterval = \"1ms\"\n", "collect.interval"),
    (MINIMAL.replace('name = "t"', "repeats = 0"), "repeats: expected an integer >= 1"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CASES, ids=[m for _, m in BAD_CASES])
def test_invalid_scenarios_name_file_key_and_expectation(tmp_path: Path, text: str,
                                                         message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    text_of_error = str(info.value)
    assert text_of_error.startswith(str(path))
    assert message in text_of_error
    assert "\n" not in text_of_error
    assert info.value.exit_code == 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "nope.toml")


def test_faults_from_file_and_flags(tmp_path: Path) -> None:
    from harness.scenario import with_cli_faults

    text = MINIMAL + '[[variants]]\nname = "pooled"\npooler = "pgbouncer"\n' + \
        '[[faults]]\nkind = "restart_pgbouncer"\nat = "2s"\nduration = "1s"\n'
    s = load_scenario(write(tmp_path, text))
    assert [(f.kind, f.at_s, f.duration_s) for f in s.faults] == [("restart_pgbouncer", 2.0, 1.0)]
    assert [v.name for v in s.variants if s.faults[0].applies_to(v)] == ["pooled"]
    s2 = with_cli_faults(s, ["freeze_target@1s+500ms", "terminate_backends@3s"])
    assert [(f.kind, f.at_s, f.duration_s) for f in s2.faults[1:]] == [
        ("freeze_target", 1.0, 0.5), ("terminate_backends", 3.0, 0.0)]
    with pytest.raises(ScenarioError, match="fits none of the variants"):
        with_cli_faults(s, ["kill_instances@1s*3"])
    with pytest.raises(ScenarioError, match="expected KIND@AT"):
        with_cli_faults(s, ["restart"])
    with pytest.raises(ScenarioError, match="before the load ends"):
        with_cli_faults(s, ["terminate_backends@9s"])


@pytest.mark.parametrize(("fault", "message"), [
    ('kind = "explode"\nat = "1s"', "expected one of"),
    ('kind = "restart_postgres"', "expected kind and at"),
    ('kind = "freeze_target"\nat = "1s"', "duration > 0"),
    ('kind = "restart_pgbouncer"\nat = "1s"\nvariants = ["a"]', "cannot hit variant 'a'"),
    ('kind = "restart_postgres"\nat = "1s"\nvariants = ["zz"]', "unknown variant 'zz'"),
])
def test_bad_faults(tmp_path: Path, fault: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        load_scenario(write(tmp_path, MINIMAL + "[[faults]]\n" + fault + "\n"))


def test_idle_session_timeout_is_a_database_key() -> None:
    from harness.scenario.loader import parse_scenario

    scenario = parse_scenario({
        "name": "idle", "database": {"idle_session_timeout": "5s",
                                     "settings": {"work_mem": "4MB"}},
        "load": {"endpoints": {"read": 1}, "stages": [{"duration": "1s", "users": 1}]},
        "variants": [{"name": "a"}, {"name": "b",
                                     "database_overrides": {"idle_session_timeout": "0s"}}],
    }, "idle.toml")
    a, b = scenario.variants
    assert a.database.server_settings() == {"work_mem": "4MB", "idle_session_timeout": "5000ms"}
    assert b.database.server_settings() == {"work_mem": "4MB"}
