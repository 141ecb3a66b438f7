"""The Node host with the unmodified npm package @vercel/functions (v3) installed from
tests/apps/node_functions' lock file: waitUntil, attachDatabasePool (only where Vercel's
variables are set, as the package requires) and upgradeWebSocket (with `ws`), no database."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.nodehost import node_host, npm_app

SRC = Path(__file__).parents[1] / "apps" / "node_functions"
ROUTES = {"/api/wait-until": "api/wait-until.mjs", "/api/release": "api/release.mjs",
          "/api/socket": "api/socket.mjs"}


@pytest.fixture(scope="module")
def app() -> Path:
    return npm_app(SRC)


def test_wait_until_from_the_package_counts_as_pending(app: Path) -> None:
    with node_host(app, ROUTES) as host:
        reply = host.request("GET", "/api/wait-until?ms=300")
        assert (reply.status, reply.body) == (202, b"accepted")
        assert host.pending()[:2] == [1, 2]  # already written when the response came
        assert host.pending_until(lambda ps: ps[-1:] == [0]) == [1, 2, 1, 0]


def test_attach_database_pool_keeps_the_function_awake_until_the_idle_timeout(app: Path) -> None:
    idle_ms = 400
    with node_host(app, ROUTES, function=True, env={"DB_IDLE_TIMEOUT_MS": str(idle_ms)}) as host:
        sent = time.monotonic()
        assert host.request("GET", "/api/release").json() == {"released": True}
        assert host.pending()[:2] == [1, 2]
        assert host.pending_until(lambda ps: ps[-1:] == [0]) == [1, 2, 1, 0]
        # The package waits the pool's idleTimeoutMillis + 100 ms.
        assert time.monotonic() - sent >= (idle_ms + 100) / 1000


def test_attach_database_pool_does_nothing_without_vercels_variables(app: Path) -> None:
    with node_host(app, ROUTES, function=False, env={"DB_IDLE_TIMEOUT_MS": "100"}) as host:
        assert host.request("GET", "/api/release").status == 200
        host.request("GET", "/api/wait-until?ms=1")  # a marker: its pending comes after
        # Only the two responses' ends, and the marker's waitUntil: no wait for the pool.
        counts = host.pending_until(lambda ps: len(ps) >= 6 and ps[-1] == 0)
        assert counts == [1, 0, 1, 2, 1, 0]


def test_upgrade_websocket_echoes_over_the_hosts_socket(app: Path) -> None:
    with node_host(app, ROUTES) as host, \
            connect(f"ws://127.0.0.1:{host.port}/api/socket", open_timeout=20) as ws:
        ws.send("ping")
        assert ws.recv(timeout=20) == "echo: ping"
        ws.send("again")
        assert ws.recv(timeout=20) == "echo: again"


def test_upgrade_without_websockets_is_a_500_reported_as_the_packages_error(app: Path) -> None:
    with node_host(app, ROUTES, websockets=False) as host:
        with pytest.raises(Exception, match="500"):
            connect(f"ws://127.0.0.1:{host.port}/api/socket", open_timeout=20)
        messages = host.control_until(lambda ms: any("exception" in m for m in ms))
        report = next(m["exception"] for m in messages if "exception" in m)
        assert report["type"] == "Error"
        assert "upgradeWebSocket is not available" in report["message"]
        assert report["where"] == "api/socket.mjs:8"


def test_a_plain_get_on_the_websocket_route_is_an_http_answer(app: Path) -> None:
    with node_host(app, ROUTES) as host:
        reply = host.request("GET", "/api/socket")
        assert (reply.status, reply.body) == (426, b"expected a WebSocket upgrade")
