"""The Node examples' scenarios as shipped load (no npm install needed): four variants each
(persistent, Lambda-style, Fluid-style, behind PgBouncer), the work after the response
declared in [app.expect], postgres.js' preparing turned off behind PgBouncer only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.scenario import load_scenario

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize(("scenario", "kind", "expect"), [
    ("express-pg/scenario.toml", "command", "POST /orders"),
    ("nextjs-postgres/scenario.toml", "command", "POST /api/orders"),
    ("nextjs-postgres/scenario-functions.toml", "node", "POST /api/orders"),
])
def test_shipped_scenarios_load(scenario: str, kind: str, expect: str) -> None:
    loaded = load_scenario(EXAMPLES / scenario)
    assert [v.name for v in loaded.variants] == ["persistent", "lambda", "fluid",
                                                 "lambda+pgbouncer"]
    app = loaded.variants[0].app
    assert app is not None and app.kind == kind
    assert dict(app.expect) == {expect: "SELECT count(*) FROM emails"}
    assert any("npm ci" in command for command in app.setup)
    envs = {v.name: dict(v.app.env) for v in loaded.variants if v.app is not None}
    if scenario.startswith("nextjs"):
        assert envs["lambda+pgbouncer"].get("DB_BEHIND_PGBOUNCER") == "1"
        assert "DB_BEHIND_PGBOUNCER" not in envs["lambda"]


@pytest.mark.parametrize("example", ["express-pg", "nextjs-postgres"])
def test_lock_files_pin_every_package_from_the_npm_registry_only(example: str) -> None:
    lock = json.loads((EXAMPLES / example / "package-lock.json").read_text())
    assert lock["lockfileVersion"] >= 2  # npm ci with npm 7 and newer (Debian 12's is 9)
    packages = {k: v for k, v in lock["packages"].items() if k}
    assert packages and all("version" in v and "integrity" in v for v in packages.values())
    resolved = [v["resolved"] for v in packages.values() if "resolved" in v]
    assert all(r.startswith("https://registry.npmjs.org/") for r in resolved)
    manifest = json.loads((EXAMPLES / example / "package.json").read_text())
    assert set(manifest["dependencies"]) <= {k.removeprefix("node_modules/") for k in packages}
