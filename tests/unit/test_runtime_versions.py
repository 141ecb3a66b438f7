"""Versions of the poolers from their own ``--version`` (harness.runtime.managed)."""

from __future__ import annotations

import re

from harness.runtime.pgbouncer import find_pgbouncer, pgbouncer_version
from harness.runtime.pgpool import find_pgpool, pgpool_version
from harness.runtime.pooler import version_output


def test_the_installed_poolers_report_their_versions() -> None:
    assert re.fullmatch(r"1\.\d+\.\d+", pgbouncer_version(find_pgbouncer()))
    assert re.fullmatch(r"4\.\d+\.\d+", pgpool_version(find_pgpool()))


def test_a_binary_that_cannot_run_has_no_version() -> None:
    assert version_output("/nonexistent/pgbouncer") == ""
    assert pgbouncer_version("/nonexistent/pgbouncer") == ""
    assert pgpool_version("/nonexistent/pgpool") == ""
