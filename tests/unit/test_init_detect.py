"""``pgstampede init``: what it reads from an app's folder without running it — the database
variables and what they are set to, the modules and their roots, the venv, schema and
migrations, a Node app's start script and routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.scaffold import node, source
from harness.scaffold.dsn import classify
from harness.scaffold.findings import EnvRead

APPS = Path(__file__).parents[1] / "fixtures" / "apps" / "init"


def reads(*names: str) -> list[EnvRead]:
    return [EnvRead(n, "app.py:1") for n in names]


def test_whole_urls_go_to_dsn_env_whatever_their_name() -> None:
    plan = classify(reads("DATABASE_URL", "INVENTORY_PG_DSN", "SQLALCHEMY_DATABASE_URI",
                          "POSTGRES_URL", "DSN"))
    assert [r.name for r in plan.urls] == ["DATABASE_URL", "INVENTORY_PG_DSN",
                                           "SQLALCHEMY_DATABASE_URI", "POSTGRES_URL", "DSN"]
    assert plan.parts == () and plan.settings == ()


def test_parts_get_templates_and_other_settings_are_left_to_the_user() -> None:
    plan = classify(reads("PGHOST", "PGPORT", "POSTGRES_DB", "DB_USER", "DB_PASSWORD",
                          "DB_POOL_SIZE", "PG_POOL_MAX"))
    assert [(r.name, t) for r, t in plan.parts] == [
        ("PGHOST", "{host}"), ("PGPORT", "{port}"), ("POSTGRES_DB", "{database}"),
        ("DB_USER", "{user}"), ("DB_PASSWORD", "{password}")]
    assert [r.name for r in plan.settings] == ["DB_POOL_SIZE", "PG_POOL_MAX"]


def test_pgbouncer_switches_are_set_on_the_pgbouncer_variant() -> None:
    plan = classify(reads("DB_BEHIND_PGBOUNCER", "PG_STATEMENT_CACHE_SIZE"))
    assert [(r.name, v) for r, v in plan.pgbouncer] == [("DB_BEHIND_PGBOUNCER", "1"),
                                                         ("PG_STATEMENT_CACHE_SIZE", "0")]


def test_variables_that_are_not_the_databases_are_ignored() -> None:
    plan = classify(reads("PORT", "REDIS_URL", "SECRET_KEY", "EMAIL_DELAY_MS", "DEBUG"))
    assert plan.urls == plan.settings == plan.parts == plan.pgbouncer == ()


def test_every_way_of_reading_a_variable_is_found_with_its_line_and_default() -> None:
    py = ('import os\nfrom os import environ, getenv\n'
          'a = os.environ["DATABASE_URL"]\n'
          'b = os.environ.get("DB_POOL_SIZE", "5")\n'
          "c = getenv('PGHOST')\n"
          'd = environ.get("DB_TIMEOUT", 30)\n'
          'e = os.environ["DATABASE_URL"]\n')
    js = 'const a = process.env.PG_DSN;\nconst b = process.env["PORT"] || 3000;\n'
    found = source.env_reads([(Path("/app/x.py"), py), (Path("/app/s.js"), js)], Path("/app"))
    assert [(r.name, r.where, r.default) for r in found] == [
        ("DATABASE_URL", "x.py:3", None), ("DB_POOL_SIZE", "x.py:4", "5"),
        ("PGHOST", "x.py:5", None), ("DB_TIMEOUT", "x.py:6", "30"),
        ("PG_DSN", "s.js:1", None), ("PORT", "s.js:2", "3000")]


def test_settings_libraries_are_read_too() -> None:
    py = ('import environ\nfrom decouple import config\nfrom pydantic_settings import '
          'BaseSettings, SettingsConfigDict\n'
          'env = environ.Env()\nDATABASES = {"default": env.db("DATABASE_URL")}\n'
          'POOL = config("DB_POOL", default=3)\n'
          'DEBUG = app.config.get("SQLALCHEMY_DATABASE_URI")\n'
          'class Settings(BaseSettings):\n'
          '    model_config = SettingsConfigDict(env_prefix="shop_")\n'
          '    pg_dsn: str\n'
          '    db_pool_size: int = 5\n')
    found = source.env_reads([(Path("/app/settings.py"), py)], Path("/app"))
    assert [(r.name, r.where, r.default) for r in found] == [
        ("SHOP_PG_DSN", "settings.py:10", None), ("SHOP_DB_POOL_SIZE", "settings.py:11", "5"),
        ("DATABASE_URL", "settings.py:5", None), ("DB_POOL", "settings.py:6", None)]


def test_a_module_is_named_from_the_first_folder_that_is_not_a_package() -> None:
    files = source.python_files(APPS / "factory")
    assert [(f.module, f.root.name) for f in files] == [("catalog", "src"),
                                                         ("catalog.web", "src")]
    assert [f.module for f in source.entry_candidates(files)] == ["catalog.web"]


def test_imports_of_the_app_exclude_its_own_modules() -> None:
    files = source.python_files(APPS / "factory")
    assert source.imported_modules(files) == ["os", "starlette.applications",
                                              "starlette.requests", "starlette.responses",
                                              "starlette.routing"]


def test_virtualenvs_dependencies_and_tests_are_not_read(tmp_path: Path) -> None:
    for folder in (".venv/lib", "node_modules/x", "tests", "env"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "main.py").write_text("app = FastAPI()\n")
    (tmp_path / "env" / "pyvenv.cfg").write_text("")
    (tmp_path / "main.py").write_text("app = FastAPI()\n")
    assert [f.path for f in source.python_files(tmp_path)] == [tmp_path / "main.py"]


def test_venv_schema_and_migrations(tmp_path: Path) -> None:
    assert source.find_venv(tmp_path) is None and source.find_schema(tmp_path) is None
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    python = tmp_path / "venv" / "bin" / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "schema.sql").write_text("")
    assert source.find_venv(tmp_path) == python
    assert source.find_schema(tmp_path) == tmp_path / "db" / "schema.sql"
    assert source.has_alembic(APPS / "factory") and not source.has_alembic(tmp_path)


def test_a_node_app_runs_its_start_script_never_dev() -> None:
    found = node.node_app(APPS / "node")
    assert found is not None
    assert (found.script, found.command, found.setup) == ("start", "node server.js", ())
    assert [q.split(":")[0] for q in found.questions] == ["no node_modules and no lock file"]
    assert node.node_routes(APPS / "node") == [("GET", "/orders", "server.js:8"),
                                               ("POST", "/orders", "server.js:13"),
                                               ("GET", "/orders/:id", "server.js:17")]


def test_a_next_app_is_installed_built_and_started_from_its_own_binary(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(
        '{"scripts": {"build": "next build", "start": "next start"}}')
    (tmp_path / "package-lock.json").write_text("{}")
    for folder, text in (("app/api/orders", "export async function GET(r) {}\n"
                                            "export const POST = async (r) => {}\n"),
                         ("app/(shop)/api/orders/[id]", "export function GET() {}\n"),
                         ("src/lib", "export function GET() {}\n")):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "route.js").write_text(text)
    found = node.node_app(tmp_path)
    assert found is not None and found.questions == ()
    assert (found.command, found.setup) == ("node_modules/.bin/next start",
                                            (node.NPM_CI, node.NEXT_BUILD))
    assert sorted(node.node_routes(tmp_path)) == [
        ("GET", "/api/orders", "app/api/orders/route.js"),
        ("GET", "/api/orders/{id}", "app/(shop)/api/orders/[id]/route.js"),
        ("POST", "/api/orders", "app/api/orders/route.js")]


@pytest.mark.parametrize("text", ["{", '{"scripts": []}', '{"scripts": {"dev": "x"}}'])
def test_no_node_app_without_a_start_script(tmp_path: Path, text: str) -> None:
    (tmp_path / "package.json").write_text(text)
    assert node.node_app(tmp_path) is None


def test_the_probe_is_standard_library_python_38() -> None:
    """It runs in the app's interpreter: no import of the harness or a third party, and
    syntax an older Python reads."""
    import ast
    import sys

    from harness.scaffold import probe

    tree = ast.parse(Path(probe.__file__).read_text(), feature_version=(3, 8))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    outside = {n for n in names if n.split(".")[0] not in sys.stdlib_module_names}
    assert outside == {"django.urls"}  # imported only when the app is a Django project
