"""``pgstampede init`` then ``pgstampede run``, as a user would: on copies of both examples
(without their scenario.toml) and on a fresh Starlette app whose DSN has another name, each
with its virtualenv as ``.venv`` (the cached venvs the other app tests build). The scenario
is run exactly as written: the run completes (exit 0 or 1) and its requests mostly answer
2xx on every variant. The FastAPI and Express examples run all three variants; the Flask
example and the Starlette app, whose scenarios differ from those only in what init found,
run the variant with most parts (serverless through PgBouncer), to keep CI under 45
minutes. Django's URL patterns are read too (init only). The Express example runs as an
``[app] command`` (``npm ci`` as its setup).
"""

from __future__ import annotations

import shutil
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.integration.apps.conftest import EXAMPLES, HERE
from tests.integration.pipeline_helpers import marked_processes, metrics, new_mark, run_cli

pytestmark = pytest.mark.integration

FRESH_APP = HERE.parents[1] / "fixtures" / "apps" / "init" / "inventory"
VARIANTS = ("persistent", "serverless", "serverless+pgbouncer")
MAX_ERROR_RATE = 0.1  # "mostly 2xx": at most one request in ten failed, on every variant


def app_folder(src: Path, tmp_path: Path, python: Path | None) -> Path:
    """A copy of the app without its scenarios, its venv linked as ``.venv``."""
    folder = Path(shutil.copytree(src, tmp_path / src.name, ignore=shutil.ignore_patterns(
        "scenario*.toml", ".venv", "__pycache__", "node_modules", ".next")))
    if python is not None:
        (folder / ".venv").symlink_to(python.parent.parent)
    return folder


def init(folder: Path) -> tuple[str, dict[str, Any]]:
    done = run_cli("init", str(folder), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, tomllib.loads((folder / "scenario.toml").read_text())


def run_as_written(folder: Path, tmp_path: Path,
                   variants: tuple[str, ...] = VARIANTS) -> Path:
    mark = new_mark()
    out = tmp_path / "run"
    started = time.monotonic()
    only = () if variants == VARIANTS else ("--variants", ",".join(variants))
    done = run_cli("run", str(folder / "scenario.toml"), "--out", str(out), "--quiet", *only,
                   timeout=900, mark=mark)
    print(f"run took {time.monotonic() - started:.0f} s")  # the docs say about two minutes
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    assert marked_processes(mark) == set()
    for variant in variants:
        found = metrics(out, variant)
        assert found["http.requests"] > 0, variant
        assert found["http.error_rate"] <= MAX_ERROR_RATE, (variant, found["http.error_rate"])
    return out


def test_init_then_run_the_fastapi_example(shop_python: Path, tmp_path: Path) -> None:
    folder = app_folder(EXAMPLES / "fastapi-shop", tmp_path, shop_python)
    printed, doc = init(folder)
    assert doc["app"]["asgi"] == "shop.main:app" and doc["app"]["python"] == ".venv/bin/python"
    assert doc["load"]["paths"] == {"GET /health": 1, "GET /products": 1}  # its OpenAPI GETs
    assert doc["variants"][2]["app_env"] == {"DB_BEHIND_PGBOUNCER": "1"}
    assert "from the app's OpenAPI schema" in printed
    assert f"next: pgstampede run {folder / 'scenario.toml'}" in printed
    run_as_written(folder, tmp_path)


def test_init_then_run_the_flask_example(orders_python: Path, tmp_path: Path) -> None:
    folder = app_folder(EXAMPLES / "flask-orders", tmp_path, orders_python)
    printed, doc = init(folder)
    assert (doc["app"]["wsgi"], doc["app"]["factory"]) == ("orders.app:create_app", True)
    assert doc["load"]["paths"] == {"GET /health": 1, "GET /orders": 1}  # from its url_map
    assert "from Flask's url_map" in printed
    assert tuple(v["name"] for v in doc["variants"]) == VARIANTS
    run_as_written(folder, tmp_path, variants=(VARIANTS[2],))


def test_init_then_run_a_fresh_starlette_app(oldstar_python: Path, tmp_path: Path) -> None:
    folder = app_folder(FRESH_APP, tmp_path, oldstar_python)
    _, doc = init(folder)
    assert doc["app"]["dsn_env"] == "INVENTORY_PG_DSN"
    assert doc["load"]["paths"] == {"GET /items": 1, "GET /stats": 1, "GET /api/ping": 1}
    assert tuple(v["name"] for v in doc["variants"]) == VARIANTS
    run_as_written(folder, tmp_path, variants=(VARIANTS[2],))


def test_init_reads_a_django_projects_url_patterns(django_python: Path,
                                                   tmp_path: Path) -> None:
    folder = app_folder(HERE / "djangonotes", tmp_path, django_python)
    _, doc = init(folder)
    assert doc["app"]["wsgi"] == "notes_site.wsgi:application"
    assert doc["load"]["paths"] == {"GET /notes": 1, "GET /notes/add": 1}


def test_init_then_run_the_express_example(tmp_path: Path) -> None:
    folder = app_folder(EXAMPLES / "express-pg", tmp_path, None)
    printed, doc = init(folder)
    assert (doc["app"]["command"], doc["app"]["port_env"], doc["app"]["ready"]) == (
        "node server.js", "PORT", "GET /health")
    assert doc["load"]["paths"] == {"GET /health": 1, "GET /orders": 1}
    assert "npm ci" in doc["app"]["setup"][0]
    assert f"next: pgstampede run {folder / 'scenario.toml'}" in printed
    run_as_written(folder, tmp_path)
