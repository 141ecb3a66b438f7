"""Golden test: recorded run folders under tests/fixtures/ give their committed summary.

Each fixture is a real run folder (``manifest.json`` + frames) with the expected summary
next to it in ``expected_summary.json``. To record (or re-record after a deliberate
change to the analysis), run from the repository root:

    .venv/bin/python tests/unit/test_report_golden.py tests/fixtures/<run>

The report must also build from a copy of the fixture (never written in place).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.analysis.run import load_run
from harness.analysis.summary import build_summary
from harness.progress import Progress
from harness.results.codec import encode
from harness.run.finalise import finalise

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXPECTED = "expected_summary.json"
RUNS = sorted(p.parent for p in FIXTURES.glob("*/manifest.json"))


def _normalised(summary: object) -> Any:
    return json.loads(json.dumps(encode(summary), sort_keys=True, allow_nan=False))


@pytest.mark.skipif(not RUNS, reason="no recorded run folder under tests/fixtures/ yet")
@pytest.mark.parametrize("fixture", RUNS, ids=[p.name for p in RUNS])
def test_fixture_summary_matches_the_committed_expectation(fixture: Path,
                                                           tmp_path: Path) -> None:
    expected_path = fixture / EXPECTED
    if not expected_path.is_file():
        pytest.fail(f"{expected_path} is missing: record it with "
                    f".venv/bin/python {Path(__file__).name} {fixture}")
    copy = tmp_path / fixture.name
    shutil.copytree(fixture, copy, ignore=shutil.ignore_patterns("summary.json", "index.html",
                                                                 "charts"))
    run = load_run(copy)
    assert run.problems == ()  # every frame file is the one the run wrote
    summary = build_summary(copy)
    assert _normalised(summary) == json.loads(expected_path.read_text())
    judged = finalise(copy, Progress(quiet=True))
    assert [t.status for t in judged.thresholds] == ["pass", "pass"]
    assert 'id="comparison"' in (copy / "index.html").read_text(encoding="utf-8")


def record(fixture: Path) -> Path:
    """Write the fixture's expected summary from the current analysis code."""
    path = fixture / EXPECTED
    summary = _normalised(build_summary(fixture))
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return path


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(record(Path(arg)))
