"""Unit tests of the load plan, the shape and the Locust command line (no Locust run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import LoadError
from harness.load.config import (
    CONFIG_ENV,
    CONFIG_FILE_ENV,
    LoadConfig,
    load_config_from_env,
    send_options,
)
from harness.load.runner import (
    LOCUST_PLUGIN,
    build_locust_argv,
    locust_env,
    locustfiles,
    read_locust_totals,
)
from harness.load.shape import shape_tick, stage_index
from harness.scenario import LoadSpec, RequestSpec, Stage

SPEC = LoadSpec(
    stages=(Stage(10.0, 5, 5.0), Stage(20.0, 50, 25.0), Stage(5.0, 0, 50.0)),
    think_time_s=(0.05, 0.2),
    requests=(
        RequestSpec("read", "GET", "/read", 0.8),
        RequestSpec("slow", "get", "/slow?ms=50", 0.1),
        RequestSpec("write", "POST", "/write", 0.1),
    ),
    processes=2,
    request_timeout_s=7.5,
)


def plan(tmp_path: Path, **overrides: object) -> LoadConfig:
    return LoadConfig.from_spec(SPEC, out_dir=tmp_path, **overrides)  # type: ignore[arg-type]


def test_from_spec_copies_the_spec(tmp_path: Path) -> None:
    cfg = plan(tmp_path)
    assert cfg.out_dir == str(tmp_path)
    assert cfg.stages == (
        Stage(10.0, 5, 5.0),
        Stage(20.0, 50, 25.0),
        Stage(5.0, 0, 50.0),
    )
    assert cfg.requests[1] == RequestSpec("slow", "GET", "/slow?ms=50", 0.1)
    assert cfg.request_timeout_s == 7.5
    assert cfg.duration_s == 35.0
    assert cfg.request_log is True


def test_json_round_trip(tmp_path: Path) -> None:
    cfg = plan(tmp_path, request_log=False)
    assert LoadConfig.from_json(cfg.to_json()) == cfg


def test_pick_follows_the_weights(tmp_path: Path) -> None:
    cfg = plan(tmp_path)
    assert cfg.pick(0.0).name == "read"
    assert cfg.pick(0.79).name == "read"
    assert cfg.pick(0.81).name == "slow"
    assert cfg.pick(0.95).name == "write"
    assert cfg.pick(0.999999).name == "write"
    picks = [cfg.pick(i / 1000).name for i in range(1000)]
    assert picks.count("read") == 800
    assert picks.count("slow") == 100


def test_zero_weight_request_is_never_picked(tmp_path: Path) -> None:
    cfg = LoadConfig(
        out_dir=str(tmp_path),
        stages=(),
        think_time_s=(0.0, 0.0),
        requests=(RequestSpec("a", "GET", "/a", 0.0), RequestSpec("b", "GET", "/b", 1.0)),
    )
    assert {cfg.pick(i / 100).name for i in range(100)} == {"b"}


def test_no_positive_weight_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="positive weight"):
        LoadConfig(str(tmp_path), (), (0.0, 0.0), (RequestSpec("a", "GET", "/a", 0.0),))


def test_think_time_constant_and_uniform(tmp_path: Path) -> None:
    cfg = plan(tmp_path)
    assert cfg.think_time(0.0) == pytest.approx(0.05)
    assert cfg.think_time(0.5) == pytest.approx(0.125)
    constant = LoadConfig(str(tmp_path), (), (0.0, 0.0), cfg.requests)
    assert constant.think_time(0.7) == 0.0


def test_config_from_env_json_and_file(tmp_path: Path) -> None:
    cfg = plan(tmp_path)
    assert load_config_from_env({CONFIG_ENV: cfg.to_json()}) == cfg
    path = tmp_path / "plan.json"
    path.write_text(cfg.to_json())
    assert load_config_from_env({CONFIG_FILE_ENV: str(path)}) == cfg


def test_config_from_env_errors(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=CONFIG_FILE_ENV):
        load_config_from_env({})
    with pytest.raises(LoadError, match="cannot read"):
        load_config_from_env({CONFIG_FILE_ENV: str(tmp_path / "missing.json")})
    with pytest.raises(LoadError, match="cannot read"):
        load_config_from_env({CONFIG_ENV: "{not json"})


def test_shape_follows_the_stages() -> None:
    stages = (Stage(10.0, 5, 5.0), Stage(20.0, 50, 25.0))
    assert shape_tick(stages, 0.0) == (5, 5.0)
    assert shape_tick(stages, 9.99) == (5, 5.0)
    assert shape_tick(stages, 10.0) == (50, 25.0)
    assert shape_tick(stages, 29.9) == (50, 25.0)
    assert shape_tick(stages, 30.0) is None
    assert stage_index(stages, 15.0) == 1
    assert stage_index(stages, 31.0) is None
    assert shape_tick((), 0.0) is None


def test_argv_single_process(tmp_path: Path) -> None:
    argv = build_locust_argv(
        python="/py", locustfile=Path("/lf.py"), host="http://127.0.0.1:8000", out_dir=tmp_path
    )
    assert argv[:5] == ["/py", "-m", "locust", "-f", "/lf.py"]
    assert "--headless" in argv
    assert argv[argv.index("--host") + 1] == "http://127.0.0.1:8000"
    assert argv[argv.index("--csv") + 1] == str(tmp_path / "locust")
    assert argv[argv.index("--exit-code-on-error") + 1] == "0"
    assert "--processes" not in argv


@pytest.mark.parametrize("processes", [2, -1])
def test_argv_several_processes_bind_loopback(tmp_path: Path, processes: int) -> None:
    argv = build_locust_argv(
        python="/py",
        locustfile=Path("/lf.py"),
        host="http://127.0.0.1:8000",
        out_dir=tmp_path,
        processes=processes,
        master_port=23001,
    )
    assert argv[argv.index("--processes") + 1] == str(processes)
    assert argv[argv.index("--master-bind-host") + 1] == "127.0.0.1"
    assert argv[argv.index("--master-bind-port") + 1] == "23001"
    assert argv[argv.index("--master-port") + 1] == "23001"


def test_argv_several_processes_need_a_port(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="master port"):
        build_locust_argv(
            python="/py", locustfile=Path("/lf.py"), host="h", out_dir=tmp_path, processes=2
        )


def test_locust_env_drops_locust_settings(tmp_path: Path) -> None:
    env = locust_env(
        {"PATH": "/bin", "LOCUST_USERS": "99", CONFIG_ENV: "{}"}, tmp_path / "plan.json"
    )
    assert env == {
        "PATH": "/bin",
        CONFIG_FILE_ENV: str(tmp_path / "plan.json"),
        "PYTHONUNBUFFERED": "1",
    }


def test_read_locust_totals(tmp_path: Path) -> None:
    assert read_locust_totals(tmp_path).requests == 0
    (tmp_path / "locust_stats.csv").write_text(
        "Type,Name,Request Count,Failure Count,Median Response Time\n"
        "GET,read,10,1,3\nGET,slow,5,2,50\n,Aggregated,15,3,4\n"
    )
    totals = read_locust_totals(tmp_path)
    assert (totals.requests, totals.failures) == (15, 3)


def test_config_json_is_plain_data(tmp_path: Path) -> None:
    data = json.loads(plan(tmp_path).to_json())
    assert data["requests"][0] == {"name": "read", "method": "GET", "path": "/read", "weight": 0.8,
                                   "headers": [], "body": ""}
    assert data["locustfile"] == ""
    assert data["stages"][1] == {"duration_s": 20.0, "users": 50, "spawn_rate": 25.0}


def test_headers_and_json_body_survive_the_json_plan(tmp_path: Path) -> None:
    post = RequestSpec("POST /orders", "POST", "/orders", 1.0, (("X-Token", "t"),),
                           '{"item": 1}')
    config = LoadConfig(out_dir=str(tmp_path), stages=(Stage(1.0, 1, 1.0),),
                        think_time_s=(0.0, 0.0), requests=(post,))
    back = LoadConfig.from_json(config.to_json())
    assert back == config
    assert send_options(back.requests[0]) == {
        "headers": {"X-Token": "t", "Content-Type": "application/json"},
        "data": b'{"item": 1}'}
    bare = RequestSpec("GET /", "GET", "/", 1.0)
    assert send_options(bare) == {}
    assert send_options(RequestSpec("GET /", "GET", "/", 1.0, (("A", "b"),))) == \
        {"headers": {"A": "b"}}


def test_a_users_locustfile_needs_no_requests(tmp_path: Path) -> None:
    config = LoadConfig(out_dir=str(tmp_path), stages=(Stage(1.0, 1, 1.0),),
                        think_time_s=(0.0, 0.0), requests=(), locustfile="/x/locustfile.py")
    assert LoadConfig.from_json(config.to_json()).locustfile == "/x/locustfile.py"
    assert locustfiles(config) == f"{LOCUST_PLUGIN},/x/locustfile.py"
    with pytest.raises(LoadError, match="at least one request"):
        LoadConfig(out_dir=str(tmp_path), stages=(Stage(1.0, 1, 1.0),),
                   think_time_s=(0.0, 0.0), requests=())
