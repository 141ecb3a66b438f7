"""The run folder: strict records, versions, and frame files verified against their record."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import IncompleteRunError, InputError
from harness.results.codec import DecodeError, decode, encode
from harness.results.folder import RunFolder
from harness.results.frames import FRAME_NAMES, FRAME_SCHEMAS, empty_frame
from harness.results.records import SCHEMA_VERSION, Manifest
from harness.results.summary import Metrics
from tests.synthetic import RunShape, write_run

SMALL = RunShape(requests_per_variant=500, duration_s=10.0)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "run", SMALL)


def _dtype(series: pd.Series) -> str:
    return "str" if pd.api.types.is_string_dtype(series) else str(series.dtype)


def test_manifest_round_trips_through_json(run_dir: Path) -> None:
    manifest = RunFolder(run_dir).read_manifest()
    assert manifest.schema_version == SCHEMA_VERSION
    again = decode(Manifest, json.loads(json.dumps(encode(manifest))), "x")
    assert again == manifest


def test_frames_are_recorded_with_rows_and_hash_and_read_back(run_dir: Path) -> None:
    folder = RunFolder(run_dir)
    record = folder.read_manifest().variants[0]
    recorded = {f.name: f for f in record.frames}
    assert recorded["requests"].rows == 500 and len(recorded["requests"].sha256) == 64
    loaded = folder.load_variant(record)
    assert loaded.problems == ()
    assert set(loaded.frames) == set(FRAME_NAMES)
    assert len(loaded.frames["requests"]) == 500
    for name, frame in loaded.frames.items():  # absent files are empty, right dtypes
        assert {c: _dtype(frame[c]) for c in FRAME_SCHEMAS[name]} == FRAME_SCHEMAS[name]
    assert loaded.frames["platform"].empty  # persistent: no platform file


def test_an_emptied_frame_file_is_a_problem_naming_the_file(run_dir: Path) -> None:
    folder = RunFolder(run_dir)
    record = folder.read_manifest().variants[0]
    path = folder.variant_dir(record) / "pglog.parquet"
    empty_frame("pglog").to_parquet(path, index=False)
    loaded = folder.load_variant(record)
    assert [p.source for p in loaded.problems] == [f"{record.dir}/pglog.parquet"]
    assert "emptied or truncated" in loaded.problems[0].reason
    assert loaded.frames["pglog"].empty


def test_a_changed_or_missing_or_corrupt_file_is_a_problem(run_dir: Path) -> None:
    folder = RunFolder(run_dir)
    record = folder.read_manifest().variants[0]
    directory = folder.variant_dir(record)
    db = pd.read_parquet(directory / "db.parquet")
    db["total"] = db["total"] + 1
    db.to_parquet(directory / "db.parquet", index=False)
    (directory / "host.parquet").unlink()
    (directory / "requests.parquet").write_bytes(b"not parquet")
    reasons = {Path(p.source).name: p.reason for p in folder.load_variant(record).problems}
    assert "sha256 differs" in reasons["db.parquet"]
    assert reasons["host.parquet"].startswith("missing")
    assert reasons["requests.parquet"].startswith("unreadable parquet")


def test_another_schema_version_is_one_clear_input_error(run_dir: Path) -> None:
    path = run_dir / "manifest.json"
    data = json.loads(path.read_text())
    data["schema_version"] = 1
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="schema_version 1; this pgstampede reads run folders "
                                         f"of schema version {SCHEMA_VERSION}"):
        RunFolder(run_dir).read_manifest()


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["variants"][0].update(load_start="soon"),
     r"variants\[0\]\.load_start: expected a number, got 'soon'"),
    (lambda d: d["variants"][0].update(surprise=1),
     r"variants\[0\]\.surprise: expected no such key"),
    (lambda d: d["variants"][0].pop("health"), r"variants\[0\]\.health: expected a value"),
    (lambda d: d.update(status="weird"), r"status: expected 'running' or 'complete'"),
])
def test_a_surprise_in_the_manifest_is_an_error_not_a_guess(run_dir: Path, change: object,
                                                           message: str) -> None:
    path = run_dir / "manifest.json"
    data = json.loads(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))
    with pytest.raises(DecodeError, match=message):
        RunFolder(run_dir).read_manifest()


def test_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such run folder"):
        RunFolder(tmp_path / "nope").read_manifest()
    with pytest.raises(InputError, match="manifest.json: missing"):
        RunFolder(tmp_path).read_manifest()
    with pytest.raises(IncompleteRunError, match="summary.json: missing"):
        RunFolder(tmp_path).read_summary()


@dataclasses.dataclass(frozen=True)
class Holder:
    metrics: Metrics


def test_codec_keeps_ints_bools_and_nulls_apart() -> None:
    metrics: Metrics = {"a": 1, "b": 1.5, "c": True, "d": None}
    back = decode(Holder, encode(Holder(metrics)), "x")
    assert back.metrics == metrics
    assert [type(v) for v in back.metrics.values()] == [int, float, bool, type(None)]
