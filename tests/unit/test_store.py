"""The run-folder store: atomic writes and the checks made before a run starts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import InputError
from harness.results.store import check_writable, write_frame, write_json


def read_json(path: Path) -> object:
    return json.loads(path.read_text())


def test_atomic_writes_leave_no_temp_files(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"x": 1})
    write_frame(tmp_path / "f.parquet", pd.DataFrame({"t": [1.0, 2.0]}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "f.parquet"]
    assert read_json(tmp_path / "a.json") == {"x": 1}


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"x": 1})
    with pytest.raises(AttributeError):
        write_frame(tmp_path / "a.json", object())  # type: ignore[arg-type]
    assert read_json(tmp_path / "a.json") == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_out_checks(tmp_path: Path) -> None:
    check_writable(tmp_path / "new" / "run")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        check_writable(tmp_path / "full")
    with pytest.raises(InputError, match="MiB free"):
        check_writable(tmp_path / "run", min_free_bytes=2**62)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(InputError, match="not writable"):
        check_writable(locked / "run")
