"""`pgstampede report` and `check` on a recorded run folder: rebuilt from the folder alone;
a damaged or incomplete folder is reported (exit 3) naming what is missing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.pipeline_helpers import run_cli

pytestmark = pytest.mark.slow  # ten CLI runs (each builds the report): not in make test-fast

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


def _empty(path: Path) -> None:
    """What a collector that could not read its source leaves: a valid file without rows."""
    pd.read_parquet(path).iloc[0:0].to_parquet(path, index=False)


def test_report_of_a_folder_with_a_missing_file_names_it_and_exits_3(tmp_path: Path) -> None:
    run = copy_fixture(tmp_path)
    missing = run / "serverless" / "1" / "requests.parquet"
    missing.unlink()
    result = run_cli("report", str(run))
    assert result.returncode == 3, result.stderr
    assert "incomplete" in result.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "incomplete"
    assert summary["problems"][0].startswith("serverless/1: serverless/1/requests.parquet: "
                                             "missing")
    html = (run / "index.html").read_text()
    assert "This run is incomplete" in html and "requests.parquet: missing" in html


@pytest.mark.parametrize("frame", ["pglog", "db"])
def test_an_emptied_frame_file_fails_check_and_report_naming_the_file(tmp_path: Path,
                                                                      frame: str) -> None:
    run = copy_fixture(tmp_path)
    assert run_cli("check", str(run)).returncode == 0  # the recorded run passes as it is
    path = run / "serverless" / "1" / f"{frame}.parquet"
    _empty(path)
    checked = run_cli("check", str(run))
    assert checked.returncode == 3, checked.stdout + checked.stderr
    assert f"serverless/1/{frame}.parquet: holds 0 rows" in checked.stderr
    assert len(checked.stderr.strip().splitlines()) == 1
    reported = run_cli("report", str(run))
    assert reported.returncode == 3
    summary = json.loads((run / "summary.json").read_text())
    refused = [t for t in summary["thresholds"] if t["metric"] == "db.refused"]
    if frame == "pglog":  # the refusals of the emptied log are not measured, never "0"
        assert summary["variants"]["serverless"]["metrics"]["db.refused"] is None
        assert [t["status"] for t in refused] == ["pass", "fail"]
        assert refused[1]["reason"].startswith("not measured: ")
    else:
        assert summary["variants"]["serverless"]["metrics"]["db.connections.peak"] is None
    assert f"{frame}.parquet: holds 0 rows" in (run / "index.html").read_text()


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


@pytest.mark.parametrize("command", ["report", "check", "baseline"])
def test_a_folder_of_another_schema_version_is_one_line_exit_2(tmp_path: Path,
                                                              command: str) -> None:
    run = copy_fixture(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["schema_version"] = 1
    (run / "manifest.json").write_text(json.dumps(manifest))
    extra = ["--save", str(tmp_path / "b.json")] if command == "baseline" else []
    result = run_cli(command, str(run), *extra)
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "schema_version 1; this pgstampede reads run folders of schema version 2" in line
