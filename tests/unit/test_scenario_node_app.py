"""``[app] node`` (Vercel-style function files): parsed into the AppSpec (routes, files under
root), its errors naming the key, and run by the targets as the Node host: one process for
every route (persistent), one function per route (serverless)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.apphost.node import HOST
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
"POST /api/orders" = 1
[[variants]]
name = "p"
target = "persistent"
[[variants]]
name = "s"
target = "serverless"
"""
ROUTES = '[app.node]\n"/api/orders" = "api/orders.js"\n"/api/items/[id]" = "api/items.mjs"\n'


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "orders.js").write_text("module.exports = (req, res) => res.end();\n")
    (tmp_path / "api" / "items.mjs").write_text("export function GET() {}\n")
    return tmp_path


def parse(folder: Path, app: str) -> object:
    return parse_scenario(tomllib.loads(BASE + "[app]\n" + app), str(folder / "s.toml"))


def test_routes_to_files_under_root(folder: Path) -> None:
    path = folder / "s.toml"
    path.write_text(BASE + '[app]\ndsn_env = "DATABASE_URL"\n' + ROUTES)
    scenario = load_scenario(path)
    check_apps(scenario)  # this machine's node runs the host
    app = scenario.variants[0].app
    assert app is not None and app == scenario.variants[1].app
    assert app.kind == "node"
    assert app.node_routes == (("/api/orders", "api/orders.js"),
                               ("/api/items/[id]", "api/items.mjs"))
    assert app.entry == "node /api/orders=api/orders.js /api/items/[id]=api/items.mjs"


def test_the_serverless_variant_runs_one_function_per_route(folder: Path) -> None:
    scenario = parse(folder, ROUTES)
    variant = scenario.variants[1]  # type: ignore[attr-defined]
    ctx = TargetContext(variant=variant, dsn="postgresql://app@127.0.0.1:5/app", logs=folder,
                        workdir=folder)
    config = platform_config(ctx)
    assert config.app_kind == "command"
    host = ["node", str(HOST), "--root", str(folder)]
    assert config.app_functions == {
        "/api/orders": (*host, "--route", "/api/orders=api/orders.js", "--function"),
        "/api/items/[id]": (*host, "--route", "/api/items/[id]=api/items.mjs", "--function")}
    assert config.app_command == (*host, "--route", "/api/orders=api/orders.js",
                                  "--route", "/api/items/[id]=api/items.mjs")
    assert config.app_env["DATABASE_URL"] == "postgresql://app@127.0.0.1:5/app"


@pytest.mark.parametrize(("app", "key", "message"), [
    ('[app.node]\n', "app.node", "at least one route"),
    ('node = "api/orders.js"', "app.node", "expected a table"),
    ('[app.node]\n"api/orders" = "api/orders.js"', 'app.node."api/orders"', "starting with /"),
    ('[app.node]\n"/api/x" = "api/missing.js"', 'app.node."/api/x"', "a file relative to root"),
    ('[app.node]\n"/api/x" = 3', 'app.node."/api/x"', "a file relative to root"),
    ('python = "python3"\n' + ROUTES, "app.python", "not for Node function files"),
    ('ready = "GET /"\n' + ROUTES, "app.ready", "not for Node function files"),
    ('command = "node s.js"\n' + ROUTES, "app", "exactly one of"),
])
def test_errors_name_the_key(folder: Path, app: str, key: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message) as err:
        parse(folder, app)
    assert err.value.key == key
