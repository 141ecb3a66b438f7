"""index.html in a real browser: headless Chromium driven over the DevTools protocol.

The page must load with no console error, no exception and no network request (only the
file itself and data: URIs), every chart must have a non-zero rendered size, and it must
print. A full-page screenshot is saved under test-artifacts/ for a human to look at.

The DevTools websocket is spoken with a tiny stdlib client, so the test needs no extra
package. Chromium runs in its own process group and is killed by group at the end.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from harness.report.charts import SPECS
from harness.run.finalise import finalise
from harness.run.progress import Progress
from harness.runtime.ports import free_port
from tests.synthetic import RunShape, write_run

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
FIXTURES = REPO / "tests" / "fixtures"
TIMEOUT_S = 90.0

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get "
                       "install chromium); the report's browser test cannot run without it"),
]


class WebSocket:
    """Just enough RFC 6455 for the DevTools protocol: masked text out, text in."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._chunk()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head

    def _chunk(self) -> bytes:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("DevTools websocket closed")
        return data

    def _exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self.buffer += self._chunk()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _frame(self, opcode: int, payload: bytes) -> None:
        size = len(payload)
        head = bytes([0x80 | opcode])
        if size < 126:
            head += bytes([0x80 | size])
        elif size < 1 << 16:
            head += bytes([0x80 | 126]) + size.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + size.to_bytes(8, "big")
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, text: str) -> None:
        self._frame(0x1, text.encode())

    def recv(self) -> str:
        message = b""
        while True:
            first, second = self._exact(2)
            size = second & 0x7F
            if size == 126:
                size = int.from_bytes(self._exact(2), "big")
            elif size == 127:
                size = int.from_bytes(self._exact(8), "big")
            payload = self._exact(size)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("DevTools websocket closed by Chromium")
            if opcode == 0x9:
                self._frame(0xA, payload)
                continue
            message += payload
            if first & 0x80 and opcode in (0x0, 0x1):
                return message.decode()

    def close(self) -> None:
        self.sock.close()


class DevTools:
    """Commands with ids; every event received meanwhile is kept in ``events``."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                assert "error" not in message, f"{method}: {message['error']}"
                result: dict[str, Any] = message["result"]
                return result
            self.events.append(message)

    def wait_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        while not any(e.get("method") == method for e in self.events):
            assert time.monotonic() < deadline, f"no {method} within {TIMEOUT_S} s"
            self.events.append(json.loads(self.ws.recv()))
        return next(e for e in self.events if e.get("method") == method)


def _json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[DevTools]:
    port = free_port()
    log = (tmp_path / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", f"--remote-debugging-port={port}",
         "--remote-debugging-address=127.0.0.1", "--window-size=1280,900", "about:blank"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "TMPDIR": str(tmp_path)})  # its scratch dirs go with the test
    ws: WebSocket | None = None
    try:
        deadline = time.monotonic() + TIMEOUT_S
        pages: list[dict[str, Any]] = []
        while not pages:
            assert proc.poll() is None, f"chromium exited early, see {log.name}"
            assert time.monotonic() < deadline, f"chromium not ready, see {log.name}"
            try:
                pages = [p for p in _json(f"http://127.0.0.1:{port}/json/list")
                         if p.get("type") == "page"]
            except OSError:
                time.sleep(0.2)
        ws = WebSocket(pages[0]["webSocketDebuggerUrl"], timeout=TIMEOUT_S)
        yield DevTools(ws)
    finally:
        if ws is not None:
            ws.close()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        log.close()


def _run_folders(tmp_path: Path) -> list[Path]:
    """A synthetic run, plus a copy of every recorded run folder under tests/fixtures/."""
    runs = [write_run(tmp_path / "synthetic", RunShape(requests_per_variant=20_000))]
    for manifest in sorted(FIXTURES.glob("**/manifest.json")):
        copy = tmp_path / "fixtures" / manifest.parent.name
        shutil.copytree(manifest.parent, copy)
        runs.append(copy)
    return runs


CHART_PROBE = """JSON.stringify({
  charts: Array.from(document.querySelectorAll('img.chart-img')).map(img => {
    const r = img.getBoundingClientRect();
    return {alt: img.alt, width: r.width, height: r.height, natural: img.naturalWidth,
            complete: img.complete};
  }),
  sections: Array.from(document.querySelectorAll('section')).map(s => s.id),
})"""


def _problems(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            out.append(f"exception: {params.get('exceptionDetails')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            out.append(f"log error: {params['entry'].get('text')} {params['entry'].get('url')}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file://", "data:")):
                out.append(f"network request: {url}")
    return out


def test_report_renders_in_chromium(chromium: DevTools, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for number, run_dir in enumerate(_run_folders(tmp_path)):
        finalise(run_dir, Progress(quiet=True))  # summary and report, as `run` makes them
        index = run_dir / "index.html"
        for domain in ("Page", "Runtime", "Log", "Network"):
            chromium.call(f"{domain}.enable")
        chromium.events.clear()
        chromium.call("Page.navigate", url=index.as_uri())
        chromium.wait_event("Page.loadEventFired")
        probe = json.loads(chromium.call("Runtime.evaluate", expression=CHART_PROBE,
                                         returnByValue=True)["result"]["value"])
        assert _problems(chromium.events) == []
        assert {"comparison", "findings", "charts", "metrics", "variants", "scenario",
                "files"} <= set(probe["sections"])
        if number == 0:
            assert len(probe["charts"]) == len(SPECS)
        assert probe["charts"]
        for chart in probe["charts"]:
            assert chart["complete"] and chart["natural"] > 0, chart
            assert chart["width"] > 100 and chart["height"] > 50, chart
        _save_screenshot(chromium, ARTIFACTS / f"report_browser_{run_dir.name}.png")
        pdf = base64.b64decode(chromium.call("Page.printToPDF")["data"])
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000


def _save_screenshot(chromium: DevTools, path: Path) -> None:
    size = chromium.call("Page.getLayoutMetrics")["cssContentSize"]
    shot = chromium.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": 1280, "height": size["height"],
                               "scale": 1})
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.stat().st_size > 10_000
