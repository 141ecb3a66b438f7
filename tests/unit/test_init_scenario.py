"""``pgstampede init`` on small apps: the probe finds the app object and its routes in the
app's interpreter (here the harness's own, which has Starlette), the written scenario loads
with the scenario loader, and what was not found is a question, not a guess."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.scaffold import init_app
from harness.scaffold.database import UNREACHABLE, ProbeDatabase
from harness.scaffold.detect import detect
from harness.scenario.loader import load_scenario

APPS = Path(__file__).parents[1] / "fixtures" / "apps" / "init"


@contextmanager
def no_database(schema: Path | None) -> Iterator[ProbeDatabase]:
    """The probe without PostgreSQL: these apps connect only in their lifespan."""
    yield ProbeDatabase(UNREACHABLE, "")


def copy(app: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(APPS / app, tmp_path / app))


def init(folder: Path, force: bool = False) -> tuple[str, dict[str, object]]:
    out = io.StringIO()
    path = init_app(str(folder), force=force, out=out, database=no_database)
    return out.getvalue(), tomllib.loads(path.read_text())


def test_starlette_app_with_its_dsn_under_another_name(tmp_path: Path) -> None:
    printed, doc = init(copy("inventory", tmp_path))
    app = doc["app"]
    assert isinstance(app, dict)
    assert (app["asgi"], app["root"], app["dsn_env"], app["schema"]) == (
        "inventory:app", ".", "INVENTORY_PG_DSN", "schema.sql")
    assert "starlette.applications" in app["preload"] and "asyncpg" in app["preload"]
    assert doc["load"]["paths"] == {"GET /items": 1, "GET /stats": 1,  # type: ignore[index]
                                    "GET /api/ping": 1}
    assert doc["variants"][2]["app_env"] == {"PG_STATEMENT_CACHE_SIZE": "0"}  # type: ignore[index]
    assert [v["name"] for v in doc["variants"]] == [  # type: ignore[attr-defined]
        "persistent", "serverless", "serverless+pgbouncer"]
    assert "next: pgstampede run" in printed and "3 GET paths to load" in printed


def test_the_routes_that_need_a_value_are_written_commented_out(tmp_path: Path) -> None:
    init(copy("inventory", tmp_path))
    text = (tmp_path / "inventory" / "scenario.toml").read_text()
    assert '# "POST /items" = { weight = 1, json = {} }' in text
    assert '# "GET /items/{item_id:int}" = 1' in text
    assert "# ? which interpreter has the app's packages?" in text  # no venv here


def test_the_written_scenario_loads_with_the_scenario_loader(tmp_path: Path) -> None:
    init(copy("inventory", tmp_path))
    scenario = load_scenario(tmp_path / "inventory" / "scenario.toml")
    assert [v.name for v in scenario.variants] == ["persistent", "serverless",
                                                   "serverless+pgbouncer"]
    assert scenario.variants[0].app is not None
    assert scenario.variants[0].app.dsn_env == ("INVENTORY_PG_DSN",)
    assert [r.name for r in scenario.load.paths] == ["GET /items", "GET /stats", "GET /api/ping"]
    assert scenario.load.duration_s == 30  # x 3 variants, with their starts: about 2 minutes
    assert scenario.variants[1].target.preset == "aws-lambda"


def test_an_openapi_document_beside_a_starlette_app_gives_its_routes(tmp_path: Path) -> None:
    folder = copy("inventory", tmp_path)
    (folder / "openapi.json").write_text(json.dumps({"openapi": "3.0.0", "paths": {
        "/items": {"get": {"parameters": [{"name": "q", "in": "query", "required": True}]},
                   "post": {"requestBody": {"content": {"application/json": {"schema": {
                       "$ref": "#/components/schemas/Item"}}}}}},
        "/stats": {"get": {}}},
        "components": {"schemas": {"Item": {"type": "object", "properties": {
            "name": {"type": "string", "example": "bolt"}, "stock": {"type": "integer"}}}}}}))
    printed, doc = init(folder)
    assert doc["load"]["paths"] == {"GET /stats": 1}  # type: ignore[index]
    text = (folder / "scenario.toml").read_text()
    assert '# "GET /items?q=?" = 1' in text
    assert '# "POST /items" = { weight = 1, json = { name = "bolt", stock = 1 } }' in text
    assert "from the app's OpenAPI schema" in printed


def test_the_commented_thresholds_load_once_uncommented(tmp_path: Path) -> None:
    folder = copy("inventory", tmp_path)
    init(folder)
    path = folder / "scenario.toml"
    text = path.read_text()
    assert load_scenario(path).check.thresholds == ()
    gate = text.split("# [thresholds]", 1)[1].replace("\n# ", "\n")
    path.write_text(text.split("# [thresholds]", 1)[0] + "[thresholds]" + gate)
    assert [t.key for t in load_scenario(path).check.thresholds] == [
        "*.http.error_rate", "*.db.refused"]


def test_a_factory_in_a_src_layout_with_the_database_in_parts(tmp_path: Path) -> None:
    _, doc = init(copy("factory", tmp_path))
    app = doc["app"]
    assert isinstance(app, dict)
    assert (app["asgi"], app["factory"], app["root"]) == ("catalog.web:create_app", True,
                                                          "src")
    assert app["dsn_env"] == [] and app["setup"] == ["alembic upgrade head"]
    assert app["env"] == {"PGHOST": "{host}", "PGPORT": "{port}", "PGUSER": "{user}",
                          "PGDATABASE": "{database}"}
    assert doc["load"]["paths"] == {"GET /products": 1, "GET /search": 1}  # type: ignore[index]
    load_scenario(tmp_path / "factory" / "scenario.toml")


def test_what_was_not_found_is_a_question_and_the_command_says_so(tmp_path: Path) -> None:
    folder = copy("plain", tmp_path)
    out = io.StringIO()
    init_app(str(folder), force=False, out=out, database=no_database)
    text = (folder / "scenario.toml").read_text()
    assert "# ? which object serves the app?" in text
    assert "# ? which variable holds the database URL?" in text
    assert "# ? how are the app's tables created?" in text
    assert "# ? which requests should the load send?" in text
    assert "it does not load as written; answer its \"# ?\" lines" in out.getvalue()
    assert "next:" not in out.getvalue()


def test_a_node_app_is_a_command_app(tmp_path: Path) -> None:
    found = detect(copy("node", tmp_path), no_database)
    assert found.entry is not None
    assert (found.entry.kind, found.entry.target) == ("command", "node server.js")
    assert found.port_env == "PORT" and [r.name for r in found.dsn.urls] == ["DATABASE_URL"]
    assert [(r.method, r.path, r.loadable) for r in found.routes] == [
        ("GET", "/orders", True), ("POST", "/orders", False), ("GET", "/orders/:id", False)]
    assert any("npm install" in q for q in found.questions)


def test_a_next_app_gets_a_longer_timeout_than_the_presets(tmp_path: Path) -> None:
    """An instance cut at the preset's 3 s is killed; a Next.js instance's first request
    (it loads the route) took longer than that on this machine, so every instance was."""
    (tmp_path / "next").mkdir()
    (tmp_path / "next" / "package.json").write_text('{"scripts": {"start": "next start"}}')
    _, doc = init(tmp_path / "next")
    assert doc["target"]["serverless"]["max_duration"] == "30s"  # type: ignore[index]
    _, doc = init(copy("node", tmp_path))
    assert "max_duration" not in doc["target"]["serverless"]  # type: ignore[index]


def test_an_existing_scenario_is_kept_unless_forced(tmp_path: Path) -> None:
    folder = copy("inventory", tmp_path)
    (folder / "scenario.toml").write_text("mine")
    with pytest.raises(InputError, match="exists; pass --force"):
        init(folder)
    assert (folder / "scenario.toml").read_text() == "mine"
    init(folder, force=True)
    assert (folder / "scenario.toml").read_text().startswith("# Written by `pgstampede init`")


def test_a_folder_that_does_not_exist_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder") as err:
        init(tmp_path / "missing")
    assert err.value.exit_code == 2


@pytest.mark.parametrize("what", ["missing", "file", "exists"])
def test_the_command_refuses_bad_input_with_one_line_and_exit_2(tmp_path: Path,
                                                                what: str) -> None:
    folder = tmp_path / "app"
    if what == "file":
        folder.write_text("")
    elif what == "exists":
        folder.mkdir()
        (folder / "scenario.toml").write_text("mine")
    done = subprocess.run([sys.executable, "-m", "harness", "init", str(folder)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "init:" in done.stderr
