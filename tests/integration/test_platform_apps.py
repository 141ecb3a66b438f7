"""A user's ASGI/WSGI app on the serverless emulator: real gateway, template and instances
(forked with preload, or exec'd), the stdlib-only host in a bare virtualenv, init failures,
background work frozen with its instance, and real PostgreSQL refusing an instance's pool."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.platform.config import PlatformConfig
from harness.runtime.ports import free_port
from harness.runtime.process import ManagedProcess, PostgresCluster
from tests.integration.pipeline_helpers import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / "tests" / "fixtures" / "apps"
ASGI = {"app_kind": "asgi", "app_entry": "stdlib_asgi:app", "app_root": str(APPS)}
WSGI = {"app_kind": "wsgi", "app_entry": "stdlib_wsgi:create_app", "app_factory": True,
        "app_root": str(APPS)}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Gateway:
    url: str

    def get(self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
            ) -> Answer:
        req = urllib.request.Request(f"{self.url}{path}", data=data, headers=headers or {},
                                     method="POST" if data is not None else "GET")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return Answer(resp.status, {k.lower(): v for k, v in resp.headers.items()},
                              resp.read())
        except urllib.error.HTTPError as err:
            return Answer(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())

    def stats(self) -> dict[str, Any]:
        doc = self.get("/__platform/stats").json()
        assert isinstance(doc, dict)
        return doc

    def instances(self) -> list[dict[str, Any]]:
        doc = self.get("/__platform/instances").json()
        assert isinstance(doc, list)
        return doc


@contextmanager
def gateway(tmp: Path, **knobs: Any) -> Iterator[Gateway]:
    config = PlatformConfig(**knobs)
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "platform.json").write_text(config.to_json())
    port = free_port()
    argv = [sys.executable, "-m", "harness.platform.gateway", "--config",
            str(tmp / "platform.json"), "--port", str(port), "--workdir", str(tmp / "gw")]
    url = f"http://127.0.0.1:{port}"
    with ManagedProcess(name="gateway", argv=argv, log_path=tmp / "gateway.log", cwd=REPO,
                        ready_url=f"{url}/__platform/health"):
        yield Gateway(url)


def stopped(pid: int) -> bool:
    return bool(psutil.Process(pid).status() == psutil.STATUS_STOPPED)


@pytest.mark.parametrize("cold_start", ["fork", "exec"])
def test_asgi_app_answers_with_its_own_headers_and_lifespan_state(
    tmp_path: Path, cold_start: str
) -> None:
    knobs = {**ASGI, "cold_start": cold_start, "app_preload": ("xml.dom.minidom",)}
    with gateway(tmp_path, **knobs) as gw:
        first = gw.get("/hello?x=1", data=b"\xffbody", headers={"X-Test": "yes"})
        assert first.status == 200 and first.headers["x-app"] == "stdlib-asgi"
        doc = first.json()
        assert (doc["method"], doc["path"], doc["query"]) == ("POST", "/hello", "x=1")
        assert doc["body"] == "\xffbody" and doc["headers"]["x-test"] == "yes"
        assert doc["state"] == {"started_by": doc["pid"]}  # the instance ran the startup
        assert gw.get("/hello").json()["instance"] == doc["instance"] == "i1"
        bare = gw.get("/bare")  # the app's headers, none added but the length
        assert (bare.status, bare.body) == (200, b"bare") and "content-type" not in bare.headers
        stats = gw.stats()
        assert stats["cold_starts"] == 1 and stats["init_failures"] == 0
        assert stats["cold_start_events"][0]["duration_ms"] > 0
        modules = gw.get("/modules").json()["modules"]
        # preload: only a forked instance has what the template imported
        assert ("xml.dom.minidom" in modules) == (cold_start == "fork")
        cmdline = " ".join(psutil.Process(doc["pid"]).cmdline())
        assert ("-m pgstampede_apphost.instance" in cmdline) == (cold_start == "exec")


def test_wsgi_factory_app_in_exec_mode(tmp_path: Path) -> None:
    with gateway(tmp_path, **WSGI, cold_start="exec") as gw:
        answer = gw.get("/hello?q=2", data=b"abc", headers={"Content-Type": "text/plain"})
        assert answer.status == 201 and answer.headers["x-app"] == "stdlib-wsgi"
        doc = answer.json()
        assert (doc["method"], doc["query"], doc["body"]) == ("POST", "q=2", "abc")
        assert doc["content_type"] == "text/plain"
        assert answer.headers["content-length"] == str(len(answer.body))


def test_the_instance_runs_on_the_standard_library_alone(tmp_path: Path) -> None:
    venv = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import uvloop"], capture_output=True)
    assert site.returncode != 0  # the venv has none of the harness's packages
    for kind, knobs in (("asgi", ASGI), ("wsgi", WSGI)):
        with gateway(tmp_path / kind, app_python=str(python), **knobs) as gw:
            answer = gw.get("/modules")
            assert answer.status in (200, 201), answer.body
            doc = answer.json()
            assert doc["executable"] == str(python)
            foreign = {m.split(".")[0] for m in doc["modules"]} - set(sys.stdlib_module_names)
            assert foreign <= {"pgstampede_apphost", "stdlib_asgi", "stdlib_wsgi", "__main__"}
            assert "pgstampede_apphost" in foreign
            assert not [p for p in doc["path"] if "site-packages" in p and ".venv" in p]
            assert str(REPO) not in doc["path"]


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"FAIL_IMPORT": "no shop module"}, "ImportError: no shop module"),
        ({"FAIL_STARTUP": "pool exploded"}, "RuntimeError: pool exploded"),
        ({"EXIT_IMPORT": "1"}, "the instance exited during its init without a message"),
    ],
)
def test_failed_init_answers_502_and_is_counted(
    tmp_path: Path, env: dict[str, str], error: str
) -> None:
    with gateway(tmp_path, **ASGI, app_env=env) as gw:
        answer = gw.get("/hello")
        assert answer.status == 502 and error in answer.body.decode()
        assert gw.get("/hello").status == 502  # each attempt is a new instance
        stats = gw.stats()
        assert stats["init_failures"] == 2 and stats["cold_starts"] == 0
        errors = [e["error"] for e in stats["init_errors"]]
        assert len(errors) == 1 and error in errors[0]  # each distinct text once
        assert gw.instances() == []


def test_background_work_is_frozen_then_completes_late_after_a_thaw(tmp_path: Path) -> None:
    out = tmp_path / "done.txt"
    with gateway(tmp_path, **ASGI) as gw:
        answer = gw.get(f"/background?ms=500&file={out}")
        answered = time.monotonic()  # the work's timer started before the answer left
        assert answer.status == 200
        (inst,) = gw.instances()
        assert inst["state"] == "frozen" and wait_until(lambda: stopped(inst["pid"]))
        assert gw.stats()["background_pending"] == 1
        # let the work's timer fall due while frozen: it cannot run until a thaw
        time.sleep(max(0.0, answered + 0.7 - time.monotonic()))
        assert not out.exists()
        assert gw.get("/hello").status == 200  # thaws the instance
        assert wait_until(lambda: gw.stats()["background_completed"] == 1)
        stats = gw.stats()
        assert (stats["background_delayed"], stats["background_lost"]) == (1, 0)
        assert stats["background_pending"] == 0 and out.read_text() == "i1\n"


def test_background_work_of_a_reaped_instance_is_lost(tmp_path: Path) -> None:
    out = tmp_path / "done.txt"
    with gateway(tmp_path, **ASGI, idle_timeout_s=1.0) as gw:
        # work due long after the reap (1 s idle): none of it can fall due while a request
        # has the instance thawed, however slowly the two requests follow each other
        assert gw.get(f"/background?ms=5000&file={out}").status == 200
        assert gw.get(f"/spawn?ms=5000&file={out}").status == 200
        assert wait_until(lambda: gw.stats()["reaped"] == 1)
        stats = gw.stats()
        assert (stats["background_lost"], stats["background_completed"]) == (2, 0)
        assert stats["background_pending"] == 0 and not out.exists()


def test_background_work_without_freeze_completes_on_time(tmp_path: Path) -> None:
    out = tmp_path / "done.txt"
    with gateway(tmp_path, **WSGI, freeze=False) as gw:
        assert gw.get(f"/background?ms=200&file={out}").status == 201
        assert wait_until(lambda: gw.stats()["background_completed"] == 1)
        stats = gw.stats()
        assert (stats["background_delayed"], stats["background_lost"]) == (0, 0)
        assert out.read_text() == "i1\n"


@pytest.mark.parametrize("knobs", [ASGI, WSGI], ids=["asgi", "wsgi"])
def test_mangum_finishes_the_work_after_the_response_inside_the_invocation(
        tmp_path: Path, knobs: dict[str, Any]) -> None:
    """adapter = "mangum": the whole call (ASGI: the work the app does after its last body
    message; WSGI: its response's close()) ends before the answer leaves the instance, so a
    reap right after it loses nothing and nothing is late; the answer waits for the work."""
    out = tmp_path / "done.txt"
    with gateway(tmp_path, **knobs, adapter="mangum", idle_timeout_s=1.0) as gw:
        began = time.monotonic()
        assert gw.get(f"/background?ms=400&file={out}").status in (200, 201)
        assert time.monotonic() - began >= 0.4  # the answer waited for the work
        assert out.read_text() == "i1\n"  # done before the answer, inside the invocation
        assert wait_until(lambda: gw.stats()["reaped"] == 1)
        stats = gw.stats()
        assert (stats["background_delayed"], stats["background_lost"]) == (0, 0)
        assert stats["background_pending"] == 0


def test_the_web_adapter_answers_first_and_a_reap_loses_the_work(tmp_path: Path) -> None:
    out = tmp_path / "done.txt"
    with gateway(tmp_path, **WSGI, adapter="web-adapter", idle_timeout_s=1.0) as gw:
        assert gw.get(f"/background?ms=400&file={out}").status == 201
        assert not out.exists()  # answered before its work, then frozen with it
        assert wait_until(lambda: gw.stats()["reaped"] == 1)
        assert gw.stats()["background_lost"] == 1 and not out.exists()


def test_a_request_over_max_duration_is_cut_and_its_instance_discarded(tmp_path: Path) -> None:
    with gateway(tmp_path, **ASGI, max_duration_s=0.5) as gw:
        assert gw.get("/hello").status == 200
        (inst,) = gw.instances()
        answer = gw.get("/slow?ms=30000")
        assert answer.status == 504 and "max_duration=0.5" in answer.body.decode()
        assert gw.stats()["timeouts"] == 1
        assert gw.instances() == []
        assert wait_until(lambda: not psutil.pid_exists(inst["pid"])
                          or psutil.Process(inst["pid"]).status() == psutil.STATUS_ZOMBIE)


@pytest.mark.parametrize("knobs", [ASGI, WSGI], ids=["asgi", "wsgi"])
def test_exceptions_that_escape_the_app_are_reported_with_its_own_frame(
        tmp_path: Path, knobs: dict[str, Any]) -> None:
    with gateway(tmp_path, **knobs) as gw:
        assert gw.get("/fail").status == 500
        if knobs is WSGI:  # after the response: its close() raises
            assert gw.get("/fail_close").status == 201
        stats = gw.stats()
        events = stats["exception_events"]
        assert stats["exceptions"] == len(events) == (1 if knobs is ASGI else 2)
        first = events[0]
        if knobs is ASGI:
            assert (first["type"], first["message"]) == ("RuntimeError", "the app failed")
            assert first["where"] == "stdlib_asgi.py:47"
        else:
            assert (first["type"], first["message"]) == ("KeyError", "'user'")
            assert first["where"] == "stdlib_wsgi.py:40"
            assert wait_until(lambda: len(gw.stats()["exception_events"]) == 2)
            late = gw.get("/__platform/stats?exceptions_since=1").json()["exception_events"]
            assert [e["type"] for e in late] == ["ConnectionResetError"]
            assert late[0]["where"].startswith("stdlib_wsgi.py:")
        assert first["instance"] == "i1" and first["t"] > 0
    assert "unhandled exception" in (tmp_path / "gateway.log").read_text()


def test_an_instance_refused_by_postgres_fails_its_init(tmp_path: Path) -> None:
    with PostgresCluster(workdir=tmp_path / "pg", max_connections=8,
                         log_path=tmp_path / "postgres.log") as pg:
        knobs = {"app_kind": "asgi", "app_entry": "pg_asgi:app", "app_root": str(APPS),
                 "app_env": {"DATABASE_URL": pg.app_dsn, "POOL_SIZE": "4"}}
        with gateway(tmp_path, **knobs) as gw:
            first = gw.get("/db")
            assert first.status == 200 and first.json()["connections"] == 4
            # two requests at once: the frozen first instance takes one (holding it for a
            # while), a second instance opens 4 more connections: 8 > 8 - 3 reserved slots
            second = _concurrent(gw, "/db?ms=3000", 2)
            refused = [a for a in second if a.status == 502]
            assert refused, [a.status for a in second]
            text = refused[0].body.decode()
            assert "remaining connection slots are reserved" in text or "too many" in text
            stats = gw.stats()
            assert stats["init_failures"] >= 1 and stats["init_errors"]
            assert "connection" in stats["init_errors"][0]["error"]


def _concurrent(gw: Gateway, path: str, n: int) -> list[Answer]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda _: gw.get(path), range(n)))
