"""Golden test: recorded run folders under tests/fixtures/ give their committed summary.

Each fixture is a real run folder (``manifest.json`` + frames) with the expected summary
next to it in ``expected_summary.json``: ``golden-run`` (a small two-variant run) and
``article-run`` (a full run of the shipped ``article`` scenario, whose report has the section
"The traps, each beside its fix"). To record (or re-record after a deliberate
change to the analysis), run from the repository root:

    .venv/bin/python tests/unit/test_report_golden.py tests/fixtures/<run>

The report must also build from a copy of the fixture (never written in place).
"""

from __future__ import annotations

import dataclasses
import html
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.analysis.run import load_run
from harness.analysis.story import story
from harness.analysis.summary import build_summary
from harness.results.codec import encode
from harness.results.summary import Summary
from harness.run.finalise import finalise
from harness.run.progress import Progress

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXPECTED = "expected_summary.json"
RUNS = sorted(p.parent for p in FIXTURES.glob("*/manifest.json"))


def _normalised(summary: object) -> Any:
    return json.loads(json.dumps(encode(summary), sort_keys=True, allow_nan=False))


Finalised = Callable[[Path], tuple[Path, Summary]]


@pytest.fixture(scope="module")
def finalised(tmp_path_factory: pytest.TempPathFactory) -> Finalised:
    """A fixture's copy finalised (summary with its verdict, report), once per module."""
    done: dict[Path, tuple[Path, Summary]] = {}

    def get(fixture: Path) -> tuple[Path, Summary]:
        if fixture not in done:
            copy = tmp_path_factory.mktemp("golden") / fixture.name
            shutil.copytree(fixture, copy, ignore=shutil.ignore_patterns(
                "summary.json", "index.html", "charts"))
            assert load_run(copy).problems == ()  # every frame file is the one the run wrote
            done[fixture] = copy, finalise(copy, Progress(quiet=True))
        return done[fixture]

    return get


@pytest.mark.skipif(not RUNS, reason="no recorded run folder under tests/fixtures/ yet")
@pytest.mark.parametrize("fixture", RUNS, ids=[p.name for p in RUNS])
def test_fixture_summary_matches_the_committed_expectation(fixture: Path,
                                                           finalised: Finalised) -> None:
    expected_path = fixture / EXPECTED
    if not expected_path.is_file():
        pytest.fail(f"{expected_path} is missing: record it with "
                    f".venv/bin/python {Path(__file__).name} {fixture}")
    copy, judged = finalised(fixture)
    summary = dataclasses.replace(judged, thresholds=())  # what build_summary(copy) gives
    assert _normalised(summary) == json.loads(expected_path.read_text())
    planned = json.loads((fixture / "manifest.json").read_text())["scenario"]["check"]
    assert len(judged.thresholds) == len(planned["thresholds"]) > 0
    assert {t.status for t in judged.thresholds} == {"pass"}  # as when it was recorded
    page = (copy / "index.html").read_text(encoding="utf-8")
    assert 'id="comparison"' in page
    text = html.unescape(page)
    for title, finding in story(summary.variants):  # the article's traps, from this run
        assert title in text and finding in text


def test_the_article_fixture_tells_every_trap(finalised: Finalised) -> None:
    fixture = FIXTURES / "article-run"
    summary = json.loads((fixture / EXPECTED).read_text())
    assert summary["scenario"] == "article" and summary["status"] == "complete"
    found = dict(story(finalised(fixture)[1].variants))
    assert len(found) == 7  # six traps and Vercel's claim
    assert "n/a" not in "".join(found.values())


def record(fixture: Path) -> Path:
    """Write the fixture's expected summary from the current analysis code."""
    path = fixture / EXPECTED
    summary = _normalised(build_summary(fixture))
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return path


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(record(Path(arg)))
