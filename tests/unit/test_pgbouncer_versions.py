"""PgBouncer versions: which ones track prepared statements, and the config line it gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.runtime.pgbouncer import PgBouncer, tracks_prepared_statements, version_tuple


@pytest.mark.parametrize(("version", "parsed", "tracks"), [
    ("1.18.0", (1, 18, 0), False), ("1.20.1", (1, 20, 1), False), ("1.21.0", (1, 21, 0), True),
    ("1.24.1", (1, 24, 1), True), ("2.0", (2, 0), True), ("", (), False),
    ("unknown", (), False), ("1.24.1rc1", (1, 24, 1), True),
])
def test_versions(version: str, parsed: tuple[int, ...], tracks: bool) -> None:
    assert version_tuple(version) == parsed
    assert tracks_prepared_statements(version) is tracks


def test_config_sets_max_prepared_statements_only_where_it_exists(tmp_path: Path) -> None:
    bouncer = PgBouncer(upstream_port=20000, log_path=tmp_path / "pgbouncer.log", port=20001)
    bouncer.version = "1.18.0"
    assert "max_prepared_statements" not in bouncer.config_text()
    bouncer.version = "1.24.1"
    assert "max_prepared_statements = 200" in bouncer.config_text().splitlines()
