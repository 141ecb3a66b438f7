"""What the database saw, exactly: the peak of backends open at once replayed from the server
log (every short connection counted), and what it rejected, by SQLSTATE, tied to the cause."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import metrics, read_json, run_cli, write_scenario

pytestmark = pytest.mark.integration

# Serverless instances that close their connection at every freeze (on_freeze = "drain"):
# connections of a few milliseconds each, most of them between two 100 ms samples.
BURSTS = """
name = "bursts"
description = "short connections"
[database]
max_connections = 40
[load]
think_time = "0s"
endpoints = { read = 1.0 }
stages = [{ duration = "6s", users = 12, spawn_rate = 50 }]
[target.serverless]
max_instances = 12
on_freeze = "drain"
[[variants]]
name = "drain"
target = "serverless"
"""

PREPARED = """
name = "prepared"
description = "asyncpg's statement cache behind PgBouncer 1.18 in transaction mode"
[database]
max_connections = 20
[load]
think_time = "0s"
endpoints = { read = 0.8, write = 0.2 }
stages = [{ duration = "5s", users = 8, spawn_rate = 20 }]
[target.persistent]
pool_min = 2
pool_max = 6
prepared_statement_fix = FIX
[pooler.pgbouncer]
pool_mode = "transaction"
pool_size = 3
[[variants]]
name = "pooled"
target = "persistent"
pooler = "pgbouncer"
"""

LINE = re.compile(r"\[(\d+)\] (?:\w{5} )?LOG:  (connection authorized: user=(\S+)|disconnection:"
                  r".* user=(\S+)|database system is ready to accept connections)")


def replay(log: Path) -> int:
    """Most backends of roles other than the monitor open at once, read straight from the
    server log (an independent reading of what harness.analysis.backends replays)."""
    open_pids: set[str] = set()
    peak = 0
    for line in log.read_text(errors="replace").splitlines():
        m = LINE.search(line)
        if m is None:
            continue
        pid, authorized_user, closed_user = m.group(1), m.group(3), m.group(4)
        if authorized_user is not None and authorized_user != "pgstampede_monitor":
            open_pids.add(pid)
        elif closed_user is not None:
            open_pids.discard(pid)
        elif authorized_user is None and closed_user is None:
            open_pids.clear()
        peak = max(peak, len(open_pids))
    return peak


def run(tmp_path: Path, text: str, name: str) -> Path:
    out = tmp_path / name
    result = run_cli("run", str(write_scenario(tmp_path, text, f"{name}.toml")), "--out",
                     str(out), "--quiet")
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-2000:]
    return out


def test_the_exact_peak_counts_every_short_connection(tmp_path: Path) -> None:
    out = run(tmp_path, BURSTS, "bursts")
    m = metrics(out, "drain")
    peak, sampled = m["db.connections.peak"], m["db.connections.peak_sampled"]
    assert m["db.connects"] > 50  # connections opened and closed over and over
    assert peak >= sampled >= 1
    assert peak == replay(out / "drain" / "1" / "logs" / "postgres.log")
    assert m["db.connections.usable"] == 37 and m["db.max_connections"] == 40


@pytest.mark.parametrize(("fix", "broken"), [("false", True), ("true", False)])
def test_prepared_statements_behind_pgbouncer_are_named_with_their_fix(
        tmp_path: Path, fix: str, broken: bool) -> None:
    out = run(tmp_path, PREPARED.replace("FIX", fix), f"prepared-{fix}")
    m = metrics(out, "pooled")
    findings = " ".join(read_json(out / "summary.json")["findings"])
    if not broken:
        assert m["db.errors"] == 0 and m["http.failures"] == 0
        assert "transaction pooler" not in findings
        return
    assert m["db.errors"] > 0 and m["http.failures"] > 0
    assert "the database logged SQLSTATE 26000 (invalid_sql_statement_name) " \
           "'prepared statement \"…\" does not exist'" in findings \
        or "SQLSTATE 08P01" in findings or "SQLSTATE 42P05" in findings
    assert "prepared statements behind a transaction pooler" in findings
    assert "statement_cache_size=0" in findings
    html = (out / "index.html").read_text()
    assert "What the database rejected" in html and "invalid_sql_statement_name" in html
