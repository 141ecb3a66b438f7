"""`pgstampede report` rebuilds from the run folder alone and refuses incomplete folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import run_cli

FIXTURE = Path(__file__).parents[1] / "fixtures" / "golden-run"


def copy_fixture(tmp_path: Path) -> Path:
    run = tmp_path / "copied-run"
    shutil.copytree(FIXTURE, run)
    return run


def test_report_rebuilds_a_copied_folder(tmp_path: Path) -> None:
    run = copy_fixture(tmp_path)
    result = run_cli("report", str(run))
    assert result.returncode == 0, result.stderr
    html = (run / "index.html").read_text()
    assert "serverless" in html and str(FIXTURE) not in html
    assert (run / "charts" / "db_connections.svg").exists()
    assert (run / "charts" / "db_connections.png").exists()


def test_report_refuses_missing_files(tmp_path: Path) -> None:
    run = copy_fixture(tmp_path)
    (run / "serverless" / "1" / "requests.parquet").unlink()
    before = (run / "summary.json").read_text()
    result = run_cli("report", str(run))
    assert result.returncode == 3
    assert "incomplete" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert (run / "summary.json").read_text() == before


def test_report_of_an_interrupted_run_renders_and_exits_3(tmp_path: Path) -> None:
    run = copy_fixture(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    (run / "manifest.json").write_text(json.dumps(manifest))
    result = run_cli("report", str(run))
    assert result.returncode == 3
    assert (run / "index.html").exists()
    assert "incomplete" in (run / "index.html").read_text().lower()


@pytest.mark.parametrize("args", [["report", "/nonexistent/run"], ["check", "/nonexistent/run"]])
def test_not_a_run_folder(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
