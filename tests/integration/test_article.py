"""The shipped article scenario, shortened: a real run of two of its variants renders the
report's trap section from the measured numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.analysis.story import VARIANTS
from tests.integration.pipeline_helpers import (
    ROOT,
    marked_processes,
    metrics,
    new_mark,
    run_cli,
    write_scenario,
)

pytestmark = pytest.mark.integration

ARTICLE = ROOT / "harness" / "scenarios" / "article.toml"
SHORT_STAGES = 'stages = [{ duration = "4s", users = 8, spawn_rate = 20 }]'


def short_article() -> str:
    """article.toml with one 4 s stage instead of its own (the rest unchanged)."""
    text = ARTICLE.read_text()
    shortened, n = re.subn(r"stages = \[\n(?:  \{[^\n]*\},?\n)+\]", SHORT_STAGES, text)
    assert n == 1
    return shortened


def test_every_variant_of_the_story_is_in_the_article() -> None:
    text = ARTICLE.read_text()
    for name in VARIANTS:
        assert f'name = "{name}"' in text


def test_a_real_run_renders_the_trap_section(tmp_path: Path) -> None:
    mark = new_mark()
    out = tmp_path / "run"
    scenario = write_scenario(tmp_path, short_article())
    result = run_cli("run", str(scenario), "--out", str(out), "--quiet",
                     "--variants", "serverless,serverless-state", mark=mark)
    # 1: a threshold of the article failed, 3: a measurement incomplete on a loaded machine;
    # the report is written either way
    assert result.returncode in (0, 1, 3), result.stdout[-3000:] + result.stderr[-3000:]
    assert marked_processes(mark) == set()
    html = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="story"' in html and "2. Global state" in html
    divergence = metrics(out, "serverless")["state.counter_divergence"]
    assert f"was off in {divergence:,} answers" in html
    assert "Vercel&#39;s claim" in html or "Vercel's claim" in html
