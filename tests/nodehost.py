"""Run pgstampede's Node host (harness/apphost/node) in tests: a real ``node`` process serving
real HTTP on 127.0.0.1, with the platform's control pipe, as the platform runs it.

``PGSTAMPEDE_TEST_NODE`` picks another Node.js binary (e.g. Debian 12's Node 18) for the tests.
"""

from __future__ import annotations

import http.client
import json
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.apphost.node import CONTROL_FD_ENV, host_command
from harness.runtime.ports import free_port
from tests.build_cache import IGNORED, built_once, run_logged

START_TIMEOUT_S = 30.0


def node_binary() -> str:
    """The Node.js the tests run: ``$PGSTAMPEDE_TEST_NODE``, else ``node`` on PATH."""
    node = os.environ.get("PGSTAMPEDE_TEST_NODE") or shutil.which("node")
    assert node, "Node.js is needed (make setup installs Debian's nodejs)"
    return node


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def headers_named(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RunningHost:
    process: subprocess.Popen[bytes]
    port: int
    control_fd: int
    first_line: str
    _buffer: bytes = b""
    _seen: list[dict[str, Any]] = field(default_factory=list)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            return Reply(response.status, response.getheaders(), response.read())
        finally:
            conn.close()

    def control(self) -> list[dict[str, Any]]:
        """The control messages written so far (the pipe read without waiting)."""
        while True:
            try:
                chunk = os.read(self.control_fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        self._seen.extend(json.loads(line) for line in lines if line)
        return list(self._seen)

    def pending(self) -> list[int]:
        """The pending counts told so far, in order."""
        return [m["pending"] for m in self.control() if "pending" in m]

    def pending_until(self, done: Any, timeout: float = 20.0) -> list[int]:
        """The pending counts once ``done(counts)`` holds."""
        messages = self.control_until(
            lambda ms: done([m["pending"] for m in ms if "pending" in m]), timeout)
        return [m["pending"] for m in messages if "pending" in m]

    def control_until(self, done: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The control messages once ``done(messages)`` holds (fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.control()
            if done(messages):
                return messages
            assert time.monotonic() < deadline, f"control messages so far: {messages}"
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> tuple[int, str]:
        """Signal the host; its exit code and standard error."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            _, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return self.process.returncode, err.decode(errors="replace")


def start_host(root: Path, routes: Mapping[str, str], *, function: bool = False,
               websockets: bool = True, env: Mapping[str, str] | None = None,
               ) -> tuple[subprocess.Popen[bytes], int, int]:
    """Spawn the host on a free port below 32768; (process, port, control read fd)."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    port = free_port()
    command = host_command(node_binary(), root, routes, function=function,
                           websockets=websockets, port=port)
    full_env = {**os.environ, **(env or {}), CONTROL_FD_ENV: str(write_fd)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               pass_fds=(write_fd,), env=full_env, cwd="/")
    os.close(write_fd)
    return process, port, read_fd


def first_stdout_line(process: subprocess.Popen[bytes], timeout: float = START_TIMEOUT_S) -> str:
    """The host's first line of output ("" if it exited first)."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(process.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"the Node host printed nothing in {timeout} s")
    return process.stdout.readline().decode().strip()


@contextmanager
def node_host(root: Path, routes: Mapping[str, str], **kwargs: Any) -> Iterator[RunningHost]:
    """A running host serving ``routes``; stopped (SIGKILL if need be) on exit."""
    process, port, read_fd = start_host(root, routes, **kwargs)
    try:
        line = first_stdout_line(process)
        if not line.startswith("pgstampede node host: serving"):
            _, err = process.communicate(timeout=10)
            raise AssertionError(f"the host did not start: {line!r} {err.decode()}")
        yield RunningHost(process, port, read_fd, line)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
        os.close(read_fd)


def _copy_app(src: Path, folder: Path) -> None:
    shutil.copytree(src, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*IGNORED))


def npm_app(src: Path) -> Path:
    """A copy of the Node app ``src`` with ``npm ci`` run in it, built once and shared
    (tests/build_cache.py: by the hash of its files, within the run and across runs)."""
    npm = shutil.which("npm")
    assert npm, "npm is needed (make setup installs Debian's npm)"

    def build(folder: Path) -> None:
        _copy_app(src, folder)
        run_logged([npm, "ci", "--no-audit", "--no-fund"], folder, folder / "npm-ci.log")

    return built_once(f"npm-{src.name}", [src], build)


def built_next_app(src: Path) -> Path:
    """``npm_app`` of a Next.js app with ``npm run build`` (next build) run in it too, built
    once and shared the same way."""
    npm = shutil.which("npm")
    assert npm, "npm is needed (make setup installs Debian's npm)"

    def build(folder: Path) -> None:
        _copy_app(src, folder)
        log = folder / "build.log"
        run_logged([npm, "ci", "--no-audit", "--no-fund"], folder, log)
        run_logged([npm, "run", "build"], folder, log,
                   env={**os.environ, "NEXT_TELEMETRY_DISABLED": "1"})

    return built_once(f"next-{src.name}", [src], build)
