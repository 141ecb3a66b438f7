"""index.html built from a synthetic run folder: sections, self-containment, copies."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import matplotlib
import pytest

from harness.report.charts import SPECS
from harness.report.table import comparison_rows
from harness.results.check_spec import parse_check
from harness.results.folder import RunFolder
from harness.run.finalise import finalise
from harness.run.progress import Progress
from tests.synthetic import RunShape, SyntheticVariant, write_run

SHAPE = RunShape(requests_per_variant=2000, duration_s=20.0)
SECTION_IDS = ("verdict", "durability", "comparison", "findings", "charts", "metrics",
               "variants", "scenario", "files")
LINK = re.compile(r'(?:src|href)="([^"]*)"')


def build_report(run_dir: Path) -> Path:
    """Summary and report of a run folder, as ``run`` and ``report`` make them."""
    finalise(run_dir, Progress(quiet=True))
    return run_dir / "index.html"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    run_dir = write_run(tmp_path_factory.mktemp("report") / "run", SHAPE)
    rc_before = dict(matplotlib.rcParams)
    index = build_report(run_dir)
    assert dict(matplotlib.rcParams) == rc_before  # no rcParams leak
    return run_dir, index.read_text(encoding="utf-8")


def test_every_section_is_present(built: tuple[Path, str]) -> None:
    run_dir, html = built
    for section in SECTION_IDS:
        assert f'id="{section}"' in html, section
    assert "pgstampede ·</span> synthetic" in html
    assert "2023-11-14 22:13:20 UTC" in html
    assert "cores <b>2</b>" in html and "postgresql <b>15.5</b>" in html
    assert "no thresholds" in html
    assert "fsync=off" in html
    assert "@media print" in html


def test_comparison_table_shows_the_shared_rows(built: tuple[Path, str]) -> None:
    run_dir, html = built
    for row in comparison_rows(RunFolder(run_dir).read_summary()):
        assert f'<td class="variant">{row.variant}' in html
        for cell in row.cells:
            assert f'<td class="{cell.severity}">{cell.text}</td>' in html


def test_findings_are_listed(built: tuple[Path, str]) -> None:
    _, html = built
    assert "<b>serverless</b>: first connection refused at" in html
    assert "<b>serverless+pgbouncer</b>: no refusals" in html


def test_every_chart_is_inline_and_written_as_svg_and_png(built: tuple[Path, str]) -> None:
    run_dir, html = built
    names = [name for name, *_ in SPECS]
    images = re.findall(r'<img class="chart-img" src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert len(images) == len(names)
    for name, data in zip(names, images, strict=True):
        svg = base64.b64decode(data)
        assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
        assert (run_dir / "charts" / f"{name}.svg").read_bytes() == svg
        png = (run_dir / "charts" / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG")


def test_self_contained_and_links_are_relative(built: tuple[Path, str]) -> None:
    run_dir, html = built
    assert "<script" not in html and "<link" not in html
    assert "@import" not in html and "url(" not in html
    links = LINK.findall(html)
    assert links
    for link in links:
        if link.startswith(("data:", "#")):
            continue
        assert "://" not in link and not link.startswith("/"), link
        assert (run_dir / link).is_file(), link
    assert "requests.parquet" in html and "logs/postgres.log" in html


def test_a_copied_folder_renders_the_same(built: tuple[Path, str], tmp_path: Path) -> None:
    run_dir, html = built
    copy = tmp_path / "elsewhere" / "renamed-run"
    shutil.copytree(run_dir, copy)
    assert (copy / "index.html").read_text(encoding="utf-8") == html
    rebuilt = build_report(copy).read_text(encoding="utf-8")
    assert rebuilt == html
    assert str(run_dir) not in rebuilt


def test_thresholds_from_summary_json(tmp_path: Path) -> None:
    check = parse_check({"persistent.latency.p95_ms": "< 1"}, {}, ["persistent"])
    run_dir = write_run(tmp_path / "run", RunShape(requests_per_variant=500, duration_s=10),
                        (SyntheticVariant("persistent", "persistent", "none"),), check=check)
    html = build_report(run_dir).read_text(encoding="utf-8")
    assert "FAIL: 1 of 1 thresholds failed" in html
    saved = json.loads((run_dir / "summary.json").read_text())
    assert [t["status"] for t in saved["thresholds"]] == ["fail"]
    assert 'id="thresholds"' in html and "persistent.latency.p95_ms &lt; 1" in html
    assert 'href="summary.json"' in html


def test_banners_for_incomplete_run_and_saturated_locust(tmp_path: Path) -> None:
    shape = RunShape(requests_per_variant=500, duration_s=10, status="interrupted",
                     saturated=True)
    run_dir = write_run(tmp_path / "run", shape, (SyntheticVariant("p", "persistent", "none"),))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["durability"] = {}
    for variant in manifest["variants"]:
        variant["durability"] = {}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    html = build_report(run_dir).read_text(encoding="utf-8")
    assert "This run is incomplete (interrupted)" in html and "interrupted by SIGINT" in html
    assert "Locust was CPU-saturated in p" in html
    assert 'id="durability"' not in html


def test_run_without_measurements_still_renders(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", RunShape(requests_per_variant=100, duration_s=5),
                        (SyntheticVariant("p", "persistent", "none"),))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["status"] = "failed"
    manifest["variants"][0].update(status="failed", load_start=None, load_end=None,
                                   error="postgres: initdb failed (see its log: x.log)")
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    html = build_report(run_dir).read_text(encoding="utf-8")
    assert "No charts: no variant reached its load window." in html
    assert "postgres: initdb failed" in html


def test_runtime_line_names_docker_images(tmp_path: Path) -> None:
    from dataclasses import replace

    from harness.report.sections import runtime_text

    manifest = RunFolder(write_run(tmp_path / "r", RunShape(
        requests_per_variant=10, duration_s=2), (SyntheticVariant("p", "persistent", "none"),)
    )).read_manifest()
    assert runtime_text(manifest) == "process"
    docker = replace(manifest, runtime="docker", runtime_info={
        "engine": {"version": "20.10.24"},
        "images": {"postgres": {"id": "sha256:0123456789abcdef0123"}}})
    assert runtime_text(docker) == "docker 20.10.24; images: postgres 0123456789ab"
