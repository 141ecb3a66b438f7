"""``[app] command`` (a program of any language serving HTTP) and ``[app.expect]``: parsed
into the AppSpec, its errors naming the key, passed to the platform's config."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.run.preflight import check_apps
from harness.scenario import load_scenario, parse_scenario
from harness.services.serverless import platform_config
from harness.services.target import TargetContext

BASE = """
name = "t"
[load]
stages = [{ duration = "5s", users = 3, spawn_rate = 3 }]
[load.paths]
"POST /orders" = 1
[[variants]]
name = "p"
target = "persistent"
[[variants]]
name = "s"
target = "serverless"
"""


def parse(tmp_path: Path, app: str) -> object:
    return parse_scenario(tomllib.loads(BASE + "[app]\n" + app), str(tmp_path / "s.toml"))


def test_a_command_as_a_list_or_a_shell_line(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(BASE + '[app]\ncommand = ["node", "server.js"]\nport_env = "APP_PORT"\n'
                    'ready = "GET /health"\nexpect_grace = "500ms"\n'
                    '[app.expect]\n"POST /orders" = "SELECT count(*) FROM emails"\n')
    scenario = load_scenario(path)
    check_apps(scenario)  # nothing to import: the command runs its own program
    app = scenario.variants[0].app
    assert app is not None and app == scenario.variants[1].app
    assert (app.kind, app.entry, app.command) == ("command", "node server.js",
                                                  ("node", "server.js"))
    assert (app.port_env, app.ready, app.expect_grace_s) == ("APP_PORT", "GET /health", 0.5)
    assert app.expect == (("POST /orders", "SELECT count(*) FROM emails"),)
    assert (app.root, app.python, app.dsn_env) == (str(tmp_path), "", ("DATABASE_URL",))
    shell = parse(tmp_path, 'command = "npm start"\n')
    assert shell.variants[0].app.command == ("/bin/sh", "-c", "npm start")  # type: ignore[attr-defined]
    assert shell.variants[0].app.port_env == "PORT"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("app", "key", "message"), [
    ('command = []', "app.command", "a command line"),
    ('command = ["node", 3]', "app.command", "a command line"),
    ('command = "node s.js"\npython = "python3"', "app.python", "not for a command app"),
    ('command = "node s.js"\nfactory = true', "app.factory", "not for a command app"),
    ('command = "node s.js"\npreload = ["x"]', "app.preload", "not for a command app"),
    ('asgi = "m:app"\nport_env = "PORT"', "app.port_env", "only for a command app"),
    ('asgi = "m:app"\nready = "GET /"', "app.ready", "only for a command app"),
    ('command = "node s.js"\nready = "/health"', "app.ready", "METHOD /path"),
    ('command = "node s.js"\nport_env = "1PORT"', "app.port_env", "variable name"),
    ('command = "x"\nasgi = "m:app"', "app", "exactly one of"),
    ('command = "x"\n[app.expect]\n"orders" = "SELECT 1"', 'app.expect."orders"',
     "METHOD /path"),
    ('command = "x"\n[app.expect]\n"POST /orders" = 3', 'app.expect."POST /orders"',
     "a query that counts"),
    ('command = "x"\nexpect_grace = "soon"', "app.expect_grace", "duration"),
])
def test_errors_name_the_key(tmp_path: Path, app: str, key: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message) as err:
        parse(tmp_path, app)
    assert err.value.key == key


def test_the_serverless_variant_passes_the_command_to_the_platform(tmp_path: Path) -> None:
    scenario = parse(tmp_path, 'command = ["node", "s.js"]\nport_env = "P"\nready = "GET /"\n')
    variant = scenario.variants[1]  # type: ignore[attr-defined]
    ctx = TargetContext(variant=variant, dsn="postgresql://app@127.0.0.1:5/app", logs=tmp_path,
                        workdir=tmp_path)
    config = platform_config(ctx)
    assert (config.app_kind, config.app_command, config.app_port_env, config.app_ready) == (
        "command", ("node", "s.js"), "P", "GET /")
    assert config.app_env["DATABASE_URL"] == "postgresql://app@127.0.0.1:5/app"


def test_subscribers_and_their_transport(tmp_path: Path) -> None:
    text = BASE.replace('[load.paths]', 'subscribers = 4\nsubscribe_transport = "websocket"\n'
                        '[load.paths]', 1)
    scenario = parse_scenario(tomllib.loads(text), str(tmp_path / "s.toml"))
    load = scenario.load  # type: ignore[attr-defined]
    assert (load.subscribers, load.subscribe_transport) == (4, "websocket")
    from harness.load.config import LoadConfig
    from harness.load.shape import shape_tick

    plan = LoadConfig.from_spec(load, out_dir=tmp_path)
    assert LoadConfig.from_json(plan.to_json()) == plan
    assert (plan.subscribers, plan.subscribe_transport) == (4, "websocket")
    assert shape_tick(plan.stages, 0.0, plan.subscribers) == (3 + 4, 3.0)
    bad = BASE.replace('[load.paths]', 'subscribe_transport = "sockets"\n[load.paths]', 1)
    with pytest.raises(ScenarioError, match="expected one of") as err:
        parse_scenario(tomllib.loads(bad), str(tmp_path / "s.toml"))
    assert err.value.key == "load.subscribe_transport"
