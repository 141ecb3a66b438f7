"""Loopback only unless --allow-remote."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InputError
from harness.run.preflight import check_loopback
from harness.runtime.loopback import dsn_host, is_loopback
from harness.scenario import load_scenario

EXTERNAL = """
name = "ext"
[load]
stages = [{ duration = "5s", users = 1 }]
[[variants]]
name = "mine"
target = "external"
url = "URL"
watch_dsn = "DSN"
paths = { "GET /items" = 0.9, "POST /items" = 0.1 }
"""


@pytest.mark.parametrize("host", ["127.0.0.1", "127.4.5.6", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.5", "8.8.8.8", "172.16.0.1"])
def test_other_hosts(host: str) -> None:
    assert not is_loopback(host)


def test_dsn_host_forms() -> None:
    assert dsn_host("postgresql://u:p@127.0.0.1:5432/db") == "127.0.0.1"
    assert dsn_host("host=10.1.2.3 port=5432 dbname=x") == "10.1.2.3"


def scenario(tmp_path: Path, url: str, dsn: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "ext.toml"
    path.write_text(EXTERNAL.replace("URL", url).replace("DSN", dsn))
    return load_scenario(path)


def test_external_variant_parses_paths(tmp_path: Path) -> None:
    s = scenario(tmp_path, "http://127.0.0.1:8000", "postgresql://postgres@127.0.0.1/app")
    v = s.variants[0]
    assert [(r.method, r.path, r.weight) for r in v.requests] == [
        ("GET", "/items", 0.9), ("POST", "/items", 0.1)]
    check_loopback(s, allow_remote=False)


@pytest.mark.parametrize(("url", "dsn", "key"), [
    ("http://10.0.0.5:8000", "postgresql://u@127.0.0.1/app", "url"),
    ("http://127.0.0.1:8000", "postgresql://u@192.168.0.9/app", "watch_dsn"),
])
def test_remote_refused_without_flag(tmp_path: Path, url: str, dsn: str, key: str) -> None:
    s = scenario(tmp_path, url, dsn)
    with pytest.raises(InputError, match=f"{key}.*--allow-remote"):
        check_loopback(s, allow_remote=False)
    check_loopback(s, allow_remote=True)
