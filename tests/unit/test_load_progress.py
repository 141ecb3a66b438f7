"""Unit tests of the progress file (live display) written by the locustfile."""

from __future__ import annotations

from pathlib import Path

from harness.load.progress import (
    LocustProgress,
    ProgressReader,
    ProgressWriter,
    ShapeEvent,
    parse_line,
    progress_line,
)


def test_lines_round_trip() -> None:
    p = LocustProgress(t=1.5, users=10, requests=100, failures=3, stage=1)
    assert parse_line(progress_line(p)) == p
    assert parse_line('{"event": "start", "t": 2.0}') == ShapeEvent("start", 2.0)
    assert parse_line("not json") is None
    assert parse_line('{"event": "progress", "t": 1}') is None
    assert parse_line("[]") is None


def test_reader_returns_only_new_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "progress.jsonl"
    reader = ProgressReader(path)
    assert reader.read_new() == []
    writer = ProgressWriter(path)
    writer.write(ShapeEvent("start", 1.0))
    writer.write(LocustProgress(2.0, 5, 10, 0, 0))
    assert reader.read_new() == [ShapeEvent("start", 1.0), LocustProgress(2.0, 5, 10, 0, 0)]
    assert reader.read_new() == []
    with path.open("a") as f:
        f.write('{"event": "end", ')
    assert reader.read_new() == []
    with path.open("a") as f:
        f.write('"t": 3.0}\n')
    assert reader.read_new() == [ShapeEvent("end", 3.0)]
