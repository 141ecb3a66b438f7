"""The server pgstampede runs an app with adds no delay of its own: uvicorn with several
workers on the standard asyncio loop (an app environment without uvloop: here the Django
test venv, which has no uvicorn, so the harness lends its copy) answers a trivial request
in well under the 44 ms of a delayed ACK, as one worker does."""

from __future__ import annotations

import http.client
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

import pytest

from harness.app.persistent import answers_http, uvicorn_args
from harness.app.server import app_server
from harness.runtime.ports import LOOPBACK, free_port
from harness.scenario.records import AppSpec

pytestmark = pytest.mark.integration

PING = '''
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"ok": true}'})
'''


def median_ms(port: int, n: int = 30) -> float:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    times = []
    for _ in range(n):
        began = time.perf_counter()
        conn.request("GET", "/")
        conn.getresponse().read()
        times.append((time.perf_counter() - began) * 1000.0)
    conn.close()
    return statistics.median(times)


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_answer_without_a_delayed_ack_wait(django_python: Path, tmp_path: Path,
                                                   workers: int) -> None:
    (tmp_path / "ping.py").write_text(PING)
    app = AppSpec(kind="asgi", entry="ping:app", root=str(tmp_path), python=str(django_python))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    server = app_server(app, env)
    assert server.lent_path  # the harness's uvicorn, on the app's asyncio loop (no uvloop)
    port = free_port()
    proc = subprocess.Popen(server.argv(uvicorn_args(app, port, workers)), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not answers_http(f"http://{LOOPBACK}:{port}/"):
            assert proc.poll() is None and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.2)
        assert median_ms(port) < 20.0  # 44 ms when the workers' sockets lacked TCP_NODELAY
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
