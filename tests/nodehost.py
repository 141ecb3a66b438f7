"""Run pgstampede's Node host (harness/apphost/node) in tests: a real ``node`` process serving
real HTTP on 127.0.0.1, with the platform's control pipe, as the platform runs it.

``PGSTAMPEDE_TEST_NODE`` picks another Node.js binary (e.g. Debian 12's Node 18) for the tests.
"""

from __future__ import annotations

import fcntl
import hashlib
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


NPM_APPS_VAR = "PGSTAMPEDE_NPM_APPS"
DEFAULT_NPM_APPS = Path("/tmp/pgstampede-npm-apps")
NPM_TIMEOUT_S = 900.0
_SKIP = {"node_modules", ".next"}
_COMPLETE = ".pgstampede-complete"


def _source_digest(src: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(src.rglob("*")):
        if path.is_file() and not _SKIP.intersection(path.relative_to(src).parts):
            digest.update(str(path.relative_to(src)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def npm_app(src: Path) -> Path:
    """A copy of the Node app ``src`` with ``npm ci`` run in it, cached outside the checkout
    by a hash of its files (so a session installs it at most once, and a changed file gives a
    fresh copy); older copies of the same app are removed."""
    cache = Path(os.environ.get(NPM_APPS_VAR, DEFAULT_NPM_APPS))
    cache.mkdir(parents=True, exist_ok=True)
    folder = cache / f"{src.name}-{_source_digest(src)}"
    with open(cache / f"{src.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / _COMPLETE).exists():
            for old in cache.glob(f"{src.name}-*"):
                shutil.rmtree(old, ignore_errors=True)
            shutil.copytree(src, folder, ignore=shutil.ignore_patterns(*_SKIP))
            npm_ci(folder)
            (folder / _COMPLETE).write_text(str(src))
    return folder


def npm_ci(folder: Path) -> None:
    """``npm ci`` in ``folder`` (its output in ``folder/npm-ci.log``)."""
    npm = shutil.which("npm")
    assert npm, "npm is needed (make setup installs Debian's npm)"
    log = folder / "npm-ci.log"
    with open(log, "w") as out:
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=folder, stdout=out,
                              stderr=subprocess.STDOUT, timeout=NPM_TIMEOUT_S, check=False)
    assert done.returncode == 0, f"npm ci failed in {folder}: {log.read_text()[-2000:]}"


def built_next_app(src: Path, timeout: float = NPM_TIMEOUT_S) -> Path:
    """``npm_app(src)`` with ``npm run build`` (next build) run in it once: the build is kept
    with the cached copy, so a test session (and the next one) builds at most once."""
    folder = npm_app(src)
    with open(folder.parent / f"{src.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".next" / "BUILD_ID").exists():
            npm = shutil.which("npm")
            assert npm, "npm is needed (make setup installs Debian's npm)"
            log = folder / "next-build.log"
            with open(log, "w") as out:
                done = subprocess.run([npm, "run", "build"], cwd=folder, stdout=out,
                                      stderr=subprocess.STDOUT, timeout=timeout, check=False,
                                      env={**os.environ, "NEXT_TELEMETRY_DISABLED": "1"})
            assert done.returncode == 0, f"next build failed in {folder}: {log.read_text()[-3000:]}"
    return folder
