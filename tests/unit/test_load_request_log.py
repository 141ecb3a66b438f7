"""Unit tests of the per-process request log: writing, merging, truncated files."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from harness.load.outcome import Outcome
from harness.load.request_frame import complete_lines, read_request_log, read_request_logs
from harness.load.request_log import COLUMNS, RequestLogWriter, request_log_path

DTYPES = {
    "t": "float64",
    "endpoint": "str",
    "latency_ms": "float64",
    "status": "int64",
    "kind": "str",
    "instance": "str",
    "counter": "int64",
}


def assert_requests_schema(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(COLUMNS)
    assert {c: str(frame[c].dtype) for c in frame.columns} == DTYPES


def write_rows(path_dir: Path, rows: list[tuple[float, str, float, int, Outcome]]) -> Path:
    log = RequestLogWriter(path_dir)
    for row in rows:
        log.write(*row)
    log.close()
    return request_log_path(path_dir, os.getpid())


def test_round_trip_keeps_values_and_dtypes(tmp_path: Path) -> None:
    write_rows(
        tmp_path,
        [
            (1_795_000_000.123456, "read", 1.2345, 200, Outcome("", "pid-1", -1)),
            (1_795_000_000.5, "counter", 0.25, 200, Outcome("", 'a,b "quoted"', 17)),
            (1_795_000_001.0, "slow", 30000.0, 0, Outcome("timeout", "", -1)),
            (1_795_000_002.0, "write", 3.5, 503, Outcome("db_too_many_connections", "", -1)),
        ],
    )
    frame = read_request_logs(tmp_path)
    assert_requests_schema(frame)
    assert len(frame) == 4
    first = frame.iloc[0]
    assert first["t"] == 1_795_000_000.123456
    assert first["latency_ms"] == 1.2345 or abs(first["latency_ms"] - 1.2345) < 1e-3
    assert frame["instance"].tolist() == ["pid-1", 'a,b "quoted"', "", ""]
    assert frame["kind"].tolist() == ["", "", "timeout", "db_too_many_connections"]
    assert frame["counter"].tolist() == [-1, 17, -1, -1]
    assert frame["status"].tolist() == [200, 200, 0, 503]


def test_merges_files_of_several_processes_sorted_by_time(tmp_path: Path) -> None:
    header = ",".join(COLUMNS) + "\n"
    (tmp_path / "requests-100.csv").write_text(
        header + "3.0,read,1.0,200,,i1,-1\n1.0,read,1.0,200,,i1,-1\n"
    )
    (tmp_path / "requests-200.csv").write_text(header + "2.0,write,2.0,500,db_other,i2,-1\n")
    (tmp_path / "requests-300.csv").write_text(header)
    frame = read_request_logs(tmp_path)
    assert frame["t"].tolist() == [1.0, 2.0, 3.0]
    assert frame["instance"].tolist() == ["i1", "i2", "i1"]
    assert frame.index.tolist() == [0, 1, 2]


def test_truncated_last_line_is_dropped(tmp_path: Path) -> None:
    header = ",".join(COLUMNS) + "\n"
    (tmp_path / "requests-1.csv").write_text(header + "1.0,read,1.0,200,,i1,-1\n2.0,rea")
    (tmp_path / "requests-2.csv").write_text(header + '3.0,read,1.0,200,,"unterminated')
    (tmp_path / "requests-3.csv").write_text("t,endpoint,lat")
    frame = read_request_logs(tmp_path)
    assert frame["t"].tolist() == [1.0]
    assert_requests_schema(frame)


def test_empty_dir_gives_an_empty_frame_with_the_columns(tmp_path: Path) -> None:
    frame = read_request_logs(tmp_path)
    assert frame.empty
    assert_requests_schema(frame)
    (tmp_path / "requests-9.csv").write_text("")
    assert_requests_schema(read_request_log(tmp_path / "requests-9.csv"))


def test_complete_lines() -> None:
    assert complete_lines(b"a\nb\nc") == b"a\nb\n"
    assert complete_lines(b"abc") == b""
    assert complete_lines(b"a\n") == b"a\n"


def test_writer_is_lazy_and_flushes(tmp_path: Path) -> None:
    log = RequestLogWriter(tmp_path, buffer_bytes=1 << 16)
    assert log.path is None
    log.flush()
    assert not list(tmp_path.iterdir())
    log.write(1.0, "read", 1.0, 200, Outcome("", "", -1))
    assert log.path == request_log_path(tmp_path, os.getpid())
    log.flush()
    assert len(read_request_logs(tmp_path)) == 1
    log.close()
    assert log.rows == 1
