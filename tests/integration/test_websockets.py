"""WebSockets: the built-in targets' twin of /events (persistent and through the gateway),
a command app's own WebSocket passed through the gateway (its slot held, cut at
max_duration), and a platform without WebSockets refusing the upgrade with a kind of its own.

Real PostgreSQL, the real persistent target and gateway; clients are ``websockets``' sync
client."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from harness.runtime.process import PostgresCluster
from tests.integration.test_platform import gateway as builtin_gateway
from tests.integration.test_platform_apps import APPS, gateway
from tests.integration.test_realtime import cluster, listening, publish  # noqa: F401
from tests.integration.test_targets import persistent

pytestmark = pytest.mark.integration

WS_APP = {"app_kind": "command", "app_command": (sys.executable, "ws_command.py"),
          "app_root": str(APPS), "app_ready": "GET /health"}


def events(ws: ClientConnection, until: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The twin's messages until ``until`` of them arrived."""
    out = []
    while len(out) < until:
        out.append(json.loads(ws.recv(timeout=timeout)))
    return out


def test_the_persistent_twin_of_events_delivers_every_message(
    cluster: PostgresCluster, tmp_path: Path  # noqa: F811
) -> None:
    app = "ws-persistent"
    with persistent(tmp_path, cluster.app_dsn, PGSTAMPEDE_APP_NAME=app) as url:
        ws_url = url.replace("http://", "ws://") + "/events"
        with connect(ws_url) as a, connect(ws_url) as b:
            ready = [events(a, 1)[0], events(b, 1)[0]]
            assert [r["event"] for r in ready] == ["ready", "ready"]
            assert listening(cluster, app) == 1  # one hub, as for /events
            sent = publish(url, 3)
            for ws in (a, b):
                got = events(ws, 3)
                assert [m["event"] for m in got] == ["message"] * 3
                assert [m["data"]["id"] for m in got] == sent


def test_the_serverless_twin_holds_its_instance_and_is_cut_at_max_duration(
    cluster: PostgresCluster, tmp_path: Path  # noqa: F811
) -> None:
    with builtin_gateway(cluster, tmp_path, max_duration_s=3.0, idle_timeout_s=300.0) as gw:
        with connect(gw.url.replace("http://", "ws://") + "/events") as ws:
            ready = events(ws, 1)[0]
            assert ready["event"] == "ready" and ready["data"]["instance"] == "i1"
            assert [i["state"] for i in gw.instances()] == ["busy"]  # it holds the slot
            sent = publish(gw.url, 2)  # on a second instance
            assert [m["data"]["id"] for m in events(ws, 2)] == sent
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=30)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert gw.stats()["timeouts"] == 0  # cut, not killed


def test_a_command_apps_websocket_passes_through_and_is_cut(tmp_path: Path) -> None:
    with gateway(tmp_path, **WS_APP, max_duration_s=1.0, instance_concurrency=2) as gw:
        ws_url = gw.url.replace("http://", "ws://")
        with connect(ws_url + "/echo") as ws:
            ws.send("hello")
            assert ws.recv(timeout=30) == "hello"
            ws.send(b"\x00\xff")
            assert ws.recv(timeout=30) == b"\x00\xff"
            (instance,) = gw.instances()
            assert (instance["state"], instance["in_flight"]) == ("busy", 1)
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url + "/forbidden")
        assert refused.value.response.status_code == 403  # the program's own answer
        began = time.monotonic()
        with connect(ws_url + "/ticks") as ws, pytest.raises(ConnectionClosed) as cut:
            while True:
                ws.recv(timeout=30)
        assert cut.value.rcvd is not None and cut.value.rcvd.code == 1001
        assert time.monotonic() - began >= 1.0
        assert gw.stats()["cold_starts"] == 1


def test_a_platform_without_websockets_refuses_the_upgrade(tmp_path: Path) -> None:
    with gateway(tmp_path, **WS_APP, websockets=False) as gw:
        with pytest.raises(InvalidStatus) as refused:
            connect(gw.url.replace("http://", "ws://") + "/echo")
        answer = refused.value.response
        assert answer.status_code == 426
        assert json.loads(bytes(answer.body or b""))["error"]["kind"] == "websocket_refused"
        assert gw.stats()["cold_starts"] == 0  # no instance was started for it


def test_an_asgi_apps_websocket_needs_it_run_as_a_command_app(tmp_path: Path) -> None:
    # as an ASGI app on the emulator: refused, as docs/app.md says
    with gateway(tmp_path / "asgi", app_kind="asgi", app_entry="ws_asgi:app",
                 app_root=str(APPS)) as gw:
        with pytest.raises(InvalidStatus) as refused:
            connect(gw.url.replace("http://", "ws://") + "/echo")
        answer = refused.value.response
        assert answer.status_code == 501
        assert json.loads(bytes(answer.body or b""))["error"]["kind"] == "websocket_refused"
    # the same app served by uvicorn as a command app: passed through, holding its slot
    command = f"{sys.executable} -m uvicorn ws_asgi:app --port $PORT"
    with gateway(tmp_path / "command", app_kind="command", app_command=("/bin/sh", "-c", command),
                 app_root=str(APPS), app_ready="GET /health") as gw:
        with connect(gw.url.replace("http://", "ws://") + "/echo") as ws:
            ws.send("hello")
            assert ws.recv(timeout=30) == "hello"
            (instance,) = gw.instances()
            assert (instance["state"], instance["in_flight"]) == ("busy", 1)
        assert gw.stats()["cold_starts"] == 1
