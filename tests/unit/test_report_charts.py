"""Charts: files written, deterministic SVG, optional charts, no pyplot state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.analysis.run import load_run
from harness.analysis.timeseries import run_series
from harness.report.charts import SPECS, write_charts
from tests.synthetic import RunShape, SyntheticVariant, write_run

SHAPE = RunShape(requests_per_variant=800, duration_s=12.0)


def test_all_charts_for_a_full_run_and_deterministic_svg(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path / "run", SHAPE))
    series = run_series(list(run.runs))
    first = write_charts(series, tmp_path / "a")
    second = write_charts(series, tmp_path / "b")
    assert [c.name for c in first] == [name for name, *_ in SPECS]
    for a, b in zip(first, second, strict=True):
        assert a.svg == b.svg
        assert a.svg_path.read_bytes() == a.svg
        assert a.png_path.stat().st_size > 1000
        assert a.width_px == 1000 and a.height_px > 100


def test_pooler_and_platform_charts_only_when_there_is_data(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path / "run", SHAPE,
                             (SyntheticVariant("persistent", "persistent", "none"),)))
    charts = write_charts(run_series(list(run.runs)), tmp_path / "charts")
    names = {c.name for c in charts}
    assert "pooler" not in names and "platform" not in names
    assert {"db_connections", "errors", "latency", "throughput", "latency_cdf"} <= names
    errors = next(c for c in charts if c.name == "errors")
    assert b"No failed requests in any variant" in errors.svg
    assert not (tmp_path / "charts" / "pooler.svg").exists()


def test_no_series_no_charts(tmp_path: Path) -> None:
    assert write_charts([], tmp_path / "charts") == []
    assert not (tmp_path / "charts").exists()


def test_building_a_report_never_imports_pyplot(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", RunShape(requests_per_variant=200, duration_s=5.0),
                        (SyntheticVariant("s", "serverless", "pgbouncer"),))
    code = (
        "import sys; from pathlib import Path; from harness.run.progress import Progress; "
        "from harness.run.finalise import finalise; "
        f"finalise(Path({str(run_dir)!r}), Progress(quiet=True)); "
        "print('matplotlib.pyplot' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, check=True)
    assert result.stdout.strip() == "False"
