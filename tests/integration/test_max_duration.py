"""Timeouts by cause: a request cut at the platform's max_duration (the aws-lambda preset's
3 s) is counted under its own kind, the finding names the limit and where it came from, and
the gateway's log says why it killed the instance. Real PostgreSQL, gateway and Locust."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import metrics, read_json, run_cli, write_scenario

pytestmark = pytest.mark.integration

SCENARIO = """
name = "cut"
[database]
max_connections = 20
[load]
think_time = "0s"
endpoints = { slow = 1.0 }
slow_ms = 4500
stages = [{ duration = "5s", users = 2, spawn_rate = 10 }]
[target.serverless]
preset = "aws-lambda"
max_instances = 4
[[variants]]
name = "lambda"
target = "serverless"
"""


def test_a_request_cut_at_max_duration_is_its_own_kind(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = run_cli("run", str(write_scenario(tmp_path, SCENARIO)), "--out", str(out), "--quiet")
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    m = metrics(out, "lambda")
    assert m["errors.max_duration"] >= 2  # each user's first request, cut at 3 s
    assert m["errors.timeout"] == 0
    findings = " ".join(read_json(out / "summary.json")["findings"])
    assert "requests were cut at the platform's max_duration = 3.0 s (the aws-lambda " \
           "preset's default)" in findings
    log = (out / "lambda" / "1" / "logs" / "gateway.log").read_text()
    assert "killed: max_duration=3.0 s exceeded by GET /slow" in log
