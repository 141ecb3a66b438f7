"""[app], presets, [load] paths with headers and JSON bodies, [load] locustfile."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from harness.app.env import app_environment, dsn_fields
from harness.errors import ScenarioError
from harness.run.preflight import check_apps
from harness.scenario import load_scenario, parse_scenario
from harness.scenario.presets import PRESETS
from harness.scenario.records import AppSpec, ServerlessSpec

TINY = Path(__file__).parents[1] / "apps" / "tiny"

BASE = """
name = "t"
[load]
stages = [{ duration = "5s", users = 3, spawn_rate = 3 }]
"""

APP = f"""
[app]
asgi = "tiny.asgi_app:app"
root = "{TINY.parent}"
python = "{sys.executable}"
dsn_env = ["DATABASE_URL", "DB"]
schema = "{TINY / 'schema.sql'}"
setup = "true"
preload = ["json"]
[app.env]
ASYNC_URL = "postgresql+asyncpg://{{user}}:{{password}}@{{host}}:{{port}}/{{database}}"
POOL_SIZE = 3
"""

VARIANTS = """
[[variants]]
name = "p"
target = "persistent"
[[variants]]
name = "s"
target = "serverless"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def paths(text: str = '"GET /items" = 1') -> str:
    return f"[load.paths]\n{text}\n"


def test_app_section_parsed_into_appspec(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE + paths() + APP + VARIANTS))
    app = s.variants[0].app
    assert app == s.variants[1].app
    assert app == AppSpec(
        kind="asgi", entry="tiny.asgi_app:app", factory=False, root=str(TINY.parent),
        python=sys.executable, dsn_env=("DATABASE_URL", "DB"),
        env=(("ASYNC_URL", "postgresql+asyncpg://{user}:{password}@{host}:{port}/{database}"),
             ("POOL_SIZE", "3")),
        schema=str(TINY / "schema.sql"), setup=("true",), preload=("json",))
    assert s.variants[0].target_config()["app"]["entry"] == "tiny.asgi_app:app"
    assert [r.name for r in s.variants[0].requests] == ["GET /items"]


def test_an_app_runs_manifest_leaves_out_the_built_in_handlers_settings(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE + paths() + APP + VARIANTS))
    for variant in s.variants:
        config = variant.target_config()[variant.target.kind]
        assert "prepared_statement_fix" not in config and "pool_max" not in config
        assert "background_delay_s" not in config and "state" not in config
    by_kind = {v.target.kind: v.target_config()[v.target.kind] for v in s.variants}
    if "persistent" in by_kind:
        assert "workers" in by_kind["persistent"]
    if "serverless" in by_kind:
        assert "max_instances" in by_kind["serverless"]
        assert "db_client" not in by_kind["serverless"]


def test_a_variant_app_env_goes_over_the_app_env(tmp_path: Path) -> None:
    variants = VARIANTS + 'app_env = { POOL_SIZE = 1, BEHIND_POOLER = "{host}" }\n'
    s = load_scenario(write(tmp_path, BASE + paths() + APP + variants))
    persistent, serverless = (dict(v.app.env) for v in s.variants if v.app is not None)
    assert persistent["POOL_SIZE"] == "3" and "BEHIND_POOLER" not in persistent
    assert serverless["POOL_SIZE"] == "1" and serverless["BEHIND_POOLER"] == "{host}"
    assert serverless["ASYNC_URL"] == persistent["ASYNC_URL"]


@pytest.mark.parametrize(("extra", "message"), [
    ('app_env = { "1X" = "a" }', "variants[1].app_env.1X: expected a variable name"),
    ('app_env = { A = "{nope}" }', "variants[1].app_env.A: unknown field {nope}"),
])
def test_a_bad_variant_app_env_names_its_key(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")
                       .replace("{", r"\{").replace("}", r"\}")):
        load_scenario(write(tmp_path, BASE + paths() + APP + VARIANTS + extra + "\n"))


def test_app_env_on_an_external_variant_is_refused(tmp_path: Path) -> None:
    text = BASE + paths() + APP + ('[[variants]]\nname = "e"\ntarget = "external"\n'
                                   'url = "http://127.0.0.1:8000"\n'
                                   'watch_dsn = "postgresql://x@127.0.0.1:5432/x"\n'
                                   'app_env = { A = "1" }\n')
    with pytest.raises(ScenarioError, match='not for target = "external"'):
        load_scenario(write(tmp_path, text))


def test_app_env_without_an_app_is_refused(tmp_path: Path) -> None:
    text = BASE + '[[variants]]\nname = "p"\napp_env = { A = "1" }\n'
    with pytest.raises(ScenarioError, match="needs an \\[app\\] section"):
        load_scenario(write(tmp_path, text))


def test_relative_paths_resolve_against_the_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "main.py").write_text("app = None\n")
    (tmp_path / "schema.sql").write_text("SELECT 1;\n")
    text = BASE + paths() + """
[app]
wsgi = "main:app"
root = "shop"
schema = "schema.sql"
[[variants]]
name = "p"
"""
    scenario_dir = tmp_path / "sub"
    scenario_dir.mkdir()
    (scenario_dir / "s.toml").write_text(text.replace('"shop"', '"../shop"')
                                         .replace('"schema.sql"', '"../schema.sql"'))
    app = load_scenario(scenario_dir / "s.toml").variants[0].app
    assert app is not None
    assert (app.kind, app.root, app.schema) == ("wsgi", str(tmp_path / "shop"),
                                                str(tmp_path / "schema.sql"))
    assert (app.python, app.dsn_env) == ("", ("DATABASE_URL",))


def test_no_app_keeps_builtin_targets(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE + VARIANTS))
    assert all(v.app is None for v in s.variants)
    assert [r.name for r in s.variants[0].requests] == ["read"]
    assert "app" not in s.variants[0].target_config()


@pytest.mark.parametrize(("app_text", "key", "message"), [
    ('asgi = "m:app"\nwsgi = "m:app"', "app", "exactly one of"),
    ('asgi = "m"', "app.asgi", "module:attribute"),
    ('asgi = "m:app"\nport = 3', "app.port", "unknown key"),
    ('asgi = "m:app"\nroot = "nowhere"', "app.root", "no such folder"),
    ('asgi = "m:app"\nschema = "none.sql"', "app.schema", "no such file"),
    ('asgi = "m:app"\npython = "./nopython"', "app.python", "no such executable"),
    ('asgi = "m:app"\ndsn_env = ["1X"]', "app.dsn_env", "variable names"),
    ('asgi = "m:app"\nenv = { A = "{hostname}" }', "app.env.A", "unknown field {hostname}"),
    ('asgi = "m:app"\nenv = { A = "{" }', "app.env.A", "invalid template"),
    ('asgi = "m:app"\nfactory = "yes"', "app.factory", "true or false"),
    ('asgi = "m:app"\nsetup = [1]', "app.setup", "list of commands"),
])
def test_app_errors_name_the_key(tmp_path: Path, app_text: str, key: str,
                                 message: str) -> None:
    text = BASE + paths() + "[app]\n" + app_text + "\n[[variants]]\nname = \"p\"\n"
    with pytest.raises(ScenarioError, match=message) as err:
        parse_scenario(__import__("tomllib").loads(text), str(tmp_path / "s.toml"))
    assert err.value.key == key


def test_missing_module_is_found_when_loading(tmp_path: Path) -> None:
    text = BASE + paths() + APP.replace("tiny.asgi_app:app", "tiny.nothing:app") + VARIANTS
    with pytest.raises(ScenarioError, match="cannot import it.*tiny.nothing") as err:
        check_apps(load_scenario(write(tmp_path, text)))
    assert err.value.key == "app.asgi"


def test_missing_preload_module_is_found_when_loading(tmp_path: Path) -> None:
    text = BASE + paths() + APP.replace('["json"]', '["no_such_lib_x"]') + VARIANTS
    with pytest.raises(ScenarioError, match="no_such_lib_x") as err:
        check_apps(load_scenario(write(tmp_path, text)))
    assert err.value.key == "app.preload"


def test_app_needs_paths_or_locustfile(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="required with an \\[app\\]") as err:
        load_scenario(write(tmp_path, BASE + APP + VARIANTS))
    assert err.value.key == "load.paths"


def test_paths_with_json_body_and_headers(tmp_path: Path) -> None:
    text = BASE + paths('"GET /items" = 0.7\n"POST /orders" = { weight = 0.3, json = '
                        '{ item = 1, tags = ["a"] }, headers = { X-Token = "t" } }') + APP \
        + VARIANTS
    get, post = load_scenario(write(tmp_path, text)).variants[1].requests
    assert (get.method, get.path, get.weight, get.body, get.headers) == \
        ("GET", "/items", 0.7, "", ())
    assert (post.method, post.path, post.weight) == ("POST", "/orders", 0.3)
    assert json.loads(post.body) == {"item": 1, "tags": ["a"]}
    assert post.headers == (("X-Token", "t"),)


@pytest.mark.parametrize(("entry", "message"), [
    ('"FETCH /x" = 1', "METHOD /path"),
    ('"GET /x" = { weight = 1, json = { a = 1 } }', "has no body"),
    ('"POST /x" = { weight = 1, body = "x" }', "unknown key"),
    ('"POST /x" = { headers = { A = 1 } }', "expected a string"),
    ('"POST /x" = -1', "expected a number >= 0"),
])
def test_bad_paths(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        load_scenario(write(tmp_path, BASE + paths(entry) + APP + VARIANTS))


def test_variant_paths_need_an_application(tmp_path: Path) -> None:
    text = BASE + '[[variants]]\nname = "p"\npaths = { "GET /" = 1 }\n'
    with pytest.raises(ScenarioError, match="only for target = \"external\" or with an"):
        load_scenario(write(tmp_path, text))


def test_locustfile_resolved_and_exclusive(tmp_path: Path) -> None:
    (tmp_path / "locustfile.py").write_text("# user's file\n")
    text = BASE.replace("[load]", '[load]\nlocustfile = "locustfile.py"') + VARIANTS
    s = load_scenario(write(tmp_path, text))
    assert s.load.locustfile == str(tmp_path / "locustfile.py")
    assert all(v.requests == () for v in s.variants)
    with pytest.raises(ScenarioError, match="not with load.locustfile") as err:
        load_scenario(write(tmp_path, text.replace('[load]', '[load]\nendpoints = { read = 1 }')))
    assert err.value.key == "load.endpoints"
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(write(tmp_path, text.replace("locustfile.py", "other.py")))


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_preset_yields_its_documented_values(tmp_path: Path, preset: str) -> None:
    text = BASE + f'[target.serverless]\npreset = "{preset}"\n' + VARIANTS
    spec = load_scenario(write(tmp_path, text)).variant("s").target
    expected = {
        "aws-lambda": (1, 1000, 100.0, 600.0, 3.0, True),
        "vercel-fluid": (30, 30000, 100.0, 300.0, 300.0, True),
        "cloud-run": (80, 100, 100.0, 900.0, 300.0, True),
        "knative": (100, 1000, 100.0, 90.0, 300.0, False),
    }[preset]
    assert (spec.instance_concurrency, spec.max_instances, spec.scale_rate,
            spec.idle_timeout_s, spec.max_duration_s, spec.freeze) == expected
    assert spec.adapter == ("mangum" if preset == "vercel-fluid" else "web-adapter")
    assert (spec.preset, spec.overrides) == (preset, ())


def test_explicit_keys_win_over_the_preset(tmp_path: Path) -> None:
    text = BASE + """
[target.serverless]
preset = "cloud-run"
instance_concurrency = 5
[[variants]]
name = "s"
target = "serverless"
[[variants]]
name = "s2"
target = "serverless"
target_overrides = { idle_timeout = "2s" }
[[variants]]
name = "lambda"
target = "serverless"
target_overrides = { preset = "aws-lambda" }
"""
    s = load_scenario(write(tmp_path, text))
    first, second, lam = (s.variant(n).target for n in ("s", "s2", "lambda"))
    assert (first.instance_concurrency, first.max_instances, first.idle_timeout_s) == \
        (5, 100, 900.0)
    assert first.overrides == ("instance_concurrency",)
    assert (second.instance_concurrency, second.idle_timeout_s) == (5, 2.0)
    assert second.overrides == ("instance_concurrency", "idle_timeout")
    # a variant's preset replaces the section's; the section's explicit keys still win
    assert (lam.preset, lam.instance_concurrency, lam.max_duration_s) == \
        ("aws-lambda", 5, 3.0)
    config = s.variant("s").target_config()["serverless"]
    assert (config["preset"], list(config["overrides"])) == ("cloud-run",
                                                             ["instance_concurrency"])


def test_no_preset_keeps_the_defaults(tmp_path: Path) -> None:
    spec = load_scenario(write(tmp_path, BASE + VARIANTS)).variant("s").target
    assert spec == ServerlessSpec()


def test_unknown_preset(tmp_path: Path) -> None:
    text = BASE + '[target.serverless]\npreset = "azure"\n' + VARIANTS
    with pytest.raises(ScenarioError, match="aws-lambda") as err:
        load_scenario(write(tmp_path, text))
    assert err.value.key == "target.serverless.preset"


def test_app_environment_fills_templates() -> None:
    app = AppSpec(kind="asgi", entry="m:app", dsn_env=("DATABASE_URL", "DB"),
                  env=(("URL", "postgresql+asyncpg://{user}:{password}@{host}:{port}/"
                               "{database}"), ("DB", "{dsn}?sslmode=disable"),
                       ("BRACES", "{{x}}")))
    dsn = "postgresql://app:p%40ss@127.0.0.1:5433/appdb"
    assert app_environment(app, dsn) == {
        "DATABASE_URL": dsn,
        "DB": dsn + "?sslmode=disable",
        "URL": "postgresql+asyncpg://app:p@ss@127.0.0.1:5433/appdb",
        "BRACES": "{x}",
    }
    assert dsn_fields("postgresql://app@127.0.0.1:5433/appdb")["password"] == ""


def test_presets_table_in_the_docs_matches_the_code() -> None:
    text = (Path(__file__).parents[2] / "docs" / "presets.md").read_text()
    rows = {cells[0].strip("` "): [c.strip(" ‡†") for c in cells[1:]]
            for line in text.splitlines() if line.startswith("| `")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    assert set(rows) == set(PRESETS)
    for name, keys in PRESETS.items():
        documented = rows[name]
        expected = [str(keys[k]).lower() for k in ("instance_concurrency", "max_instances")] \
            + [f"{float(str(keys['scale_rate'])):g}", str(keys["idle_timeout"]),
               str(keys["max_duration"]), str(keys["freeze"]).lower(),
               str(keys["websockets"]).lower(), str(keys["adapter"])]
        assert documented == expected, name


def test_serverless_app_variant_fills_the_platform_config(tmp_path: Path) -> None:
    from harness.services.serverless import platform_config
    from harness.services.target import TargetContext

    text = BASE + paths() + APP + '[target.serverless]\npreset = "cloud-run"\n' + VARIANTS
    v = load_scenario(write(tmp_path, text)).variant("s")
    dsn = "postgresql://app@127.0.0.1:6432/app"
    config = platform_config(TargetContext(variant=v, dsn=dsn, logs=tmp_path, workdir=tmp_path))
    assert (config.app_kind, config.app_entry, config.app_factory) == \
        ("asgi", "tiny.asgi_app:app", False)
    assert (config.app_root, config.app_python) == (str(TINY.parent), sys.executable)
    assert config.app_preload == ("json",)
    assert config.app_env == {
        "DATABASE_URL": dsn, "DB": dsn, "POOL_SIZE": "3",
        "ASYNC_URL": "postgresql+asyncpg://app:@127.0.0.1:6432/app"}
    assert (config.instance_concurrency, config.max_duration_s) == (80, 300.0)
    builtin = platform_config(TargetContext(
        variant=dataclasses.replace(v, app=None), dsn=dsn, logs=tmp_path, workdir=tmp_path))
    assert builtin.app_kind == "" and builtin.app_env == {}
