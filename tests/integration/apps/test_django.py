"""An unseen framework: a Django project, unchanged (its own settings module, its
``wsgi.py``, thread-local connections kept open with ``CONN_MAX_AGE = None``), in its own
venv, run by the real CLI as a server and as Lambda-style instances.

On the emulator each instance is a process with its own Django connection, opened on its
first request and kept while it is frozen: the server's log shows at most one connection per
cold start (none, for an instance started for a request that another one took).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.apps.conftest import HERE
from tests.integration.apps.scenarios import table
from tests.integration.pipeline_helpers import metrics, read_json, run_complete

pytestmark = pytest.mark.integration

NOTES = HERE / "djangonotes"

SETTINGS = """
[database]
max_connections = 30

[load]
think_time = ["20ms", "80ms"]
stages = [{ duration = "6s", users = 6, spawn_rate = 12 }]

[load.paths]
"GET /notes" = 0.7
"POST /notes/add" = 0.3

[target.persistent]
workers = 2

[target.serverless]
preset = "aws-lambda"
idle_timeout = "30s"

[[variants]]
name = "persistent"
target = "persistent"

[[variants]]
name = "serverless"
target = "serverless"
"""


def test_a_django_project_runs_unchanged_on_both_targets(django_python: Path,
                                                         tmp_path: Path) -> None:
    app = {"wsgi": "notes_site.wsgi:application", "root": str(NOTES),
           "python": str(django_python), "schema": str(NOTES / "schema.sql"),
           "preload": ["django", "psycopg"]}
    out = run_complete(tmp_path, 'name = "django"\n' + table("app", app) + SETTINGS)
    assert read_json(out / "manifest.json")["status"] == "complete"
    for variant in ("persistent", "serverless"):
        m = metrics(out, variant)
        assert m["http.requests"] > 0 and m["http.error_rate"] == 0, variant
        assert m["db.refused"] == 0, variant
    serverless = metrics(out, "serverless")
    assert serverless["platform.cold_starts"] >= 2
    assert serverless["platform.init_failures"] == 0
    # one Django connection per instance at most (an instance started for a request that
    # another instance took first may never connect), kept while frozen: never reopened
    assert 0 < serverless["db.connects"] <= serverless["platform.cold_starts"]
    assert serverless["db.connects"] < serverless["http.requests"] / 4
