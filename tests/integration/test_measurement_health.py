"""Real runs whose measurement or run breaks: a collector that cannot work all run long, an
unreadable background table, an error in the middle of the run; and the one verdict of
`run` and `check` on a run that left a variant out.

A break is put in by running the real CLI in a child process with one function of the
harness replaced before ``main`` starts (PostgreSQL, PgBouncer, the target and Locust are
real); nothing is mocked in the database.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import (
    ROOT,
    marked_env,
    marked_processes,
    new_mark,
    read_json,
    run_cli,
    temp_dirs,
    write_scenario,
)

pytestmark = pytest.mark.integration

SMALL = """
name = "health"
description = "a short run"
[database]
max_connections = 20
[load]
endpoints = { read = 0.8, background = 0.2 }
stages = [{ duration = "3s", users = 4, spawn_rate = 10 }]
[pooler.pgbouncer]
pool_size = 3
[[variants]]
name = "a"
[[variants]]
name = "b"
pooler = "pgbouncer"
[thresholds]
"a.http.error_rate" = "== 0"
"b.http.error_rate" = "== 0"
"""

BROKEN_DB_COLLECTOR = """
import harness.collect.pg_activity as m
async def sample(self, t):
    raise PermissionError("permission denied for view pg_stat_activity")
m.PgActivityCollector.sample = sample
"""
UNREADABLE_BACKGROUND = """
import harness.run.seams as m
m.BACKGROUND_SQL = "SELECT * FROM no_such_background_table"
"""
PORT_TAKEN = """
import harness.runtime.pgbouncer as m
from harness.errors import InputError
def taken(*args, **kwargs):
    raise InputError("pgbouncer: port 20123 on 127.0.0.1 is in use")
m.free_port = taken
"""


def run_patched(patch: str, *args: str, mark: str) -> subprocess.CompletedProcess[str]:
    """``pgstampede ARGS`` in a child process, ``patch`` applied before ``main``."""
    code = patch + f"\nfrom harness.cli import main\nmain({list(args)!r})\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env=marked_env(mark))


def nothing_left(mark: str) -> None:
    assert marked_processes(mark) == set()
    assert temp_dirs(mark) == set()


def test_a_variant_left_out_is_na_in_run_and_in_check(tmp_path: Path) -> None:
    mark = new_mark()
    out = tmp_path / "run"
    result = run_cli("run", str(write_scenario(tmp_path, SMALL)), "--variants", "a", "--out",
                     str(out), "--quiet", mark=mark)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "b.http.error_rate == 0  (n/a: not applicable: variant 'b' was not run" \
        in result.stdout
    summary = read_json(out / "summary.json")
    assert [(t["variant"], t["status"]) for t in summary["thresholds"]] == [("a", "pass"),
                                                                            ("b", "n/a")]
    checked = run_cli("check", str(out), "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    verdict = json.loads(checked.stdout)
    assert [(t["variant"], t["status"]) for t in verdict["thresholds"]] == [("a", "pass"),
                                                                            ("b", "n/a")]
    nothing_left(mark)


def test_a_collector_that_cannot_work_makes_run_report_and_check_exit_3(tmp_path: Path) -> None:
    mark = new_mark()
    out = tmp_path / "run"
    result = run_patched(BROKEN_DB_COLLECTOR, "run", str(write_scenario(tmp_path, SMALL)),
                         "--variants", "a", "--out", str(out), "--quiet", mark=mark)
    assert result.returncode == 3, result.stdout[-2000:] + result.stderr[-2000:]
    assert "run incomplete" in result.stdout and "pg_activity" in result.stdout
    assert "Traceback" not in result.stderr
    record = read_json(out / "manifest.json")["variants"][0]
    health = {h["name"]: h for h in record["health"]}["pg_activity"]
    assert health["samples"] == 0 and health["failures"] >= 1
    assert "permission denied for view pg_stat_activity" in health["first_error"]
    html = (out / "index.html").read_text()
    banner = html.split("This run is incomplete", 1)[1].split("</", 1)[0]
    assert "pg_activity" in banner and "covered 0% of the load window" in banner
    checked = run_cli("check", str(out))
    assert checked.returncode == 3 and "pg_activity" in checked.stderr
    assert run_cli("report", str(out)).returncode == 3
    nothing_left(mark)


def test_an_unreadable_background_table_makes_the_run_incomplete(tmp_path: Path) -> None:
    mark = new_mark()
    out = tmp_path / "run"
    result = run_patched(UNREADABLE_BACKGROUND, "run", str(write_scenario(tmp_path, SMALL)),
                         "--variants", "a", "--out", str(out), "--quiet", mark=mark)
    assert result.returncode == 3, result.stdout[-2000:] + result.stderr[-2000:]
    manifest = read_json(out / "manifest.json")
    assert manifest["status"] == "incomplete"
    [problem] = manifest["variants"][0]["problems"]
    assert problem["source"] == "background"
    assert "no_such_background_table" in problem["reason"]
    summary = read_json(out / "summary.json")
    assert summary["variants"]["a"]["metrics"]["background.lost"] is None  # never "0 lost"
    assert not any("ran on time" in f for f in summary["findings"])
    checked = run_cli("check", str(out))
    assert checked.returncode == 3 and "background" in checked.stderr
    nothing_left(mark)


def test_an_error_mid_run_ends_it_failed_with_everything_written(tmp_path: Path) -> None:
    mark = new_mark()
    out = tmp_path / "run"
    result = run_patched(PORT_TAKEN, "run", str(write_scenario(tmp_path, SMALL)), "--out",
                         str(out), "--quiet", mark=mark)
    assert result.returncode == 3, result.stdout[-2000:] + result.stderr[-2000:]
    assert "port 20123 on 127.0.0.1 is in use" in result.stdout
    manifest = read_json(out / "manifest.json")
    assert manifest["status"] == "failed"
    assert "port 20123" in manifest["error"]
    assert [(v["name"], v["status"]) for v in manifest["variants"]] == [("a", "complete"),
                                                                        ("b", "failed")]
    summary = read_json(out / "summary.json")
    assert summary["status"] == "failed"
    assert summary["variants"]["a"]["metrics"]["http.requests"] > 0  # what was measured stays
    assert (out / "index.html").exists()
    nothing_left(mark)
