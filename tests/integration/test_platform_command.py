"""A command app on the serverless emulator: a program (here Python's http.server, no
framework, no harness code) serving HTTP on the port the platform gives it, each instance a
process group of its own, frozen between requests, its output in the gateway's log, its init
failures quoting its last line, its pending work (control channel) keeping it busy."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.test_platform_apps import APPS, gateway, stopped, wait_until

pytestmark = pytest.mark.integration

COMMAND = {"app_kind": "command", "app_command": (sys.executable, "http_command.py"),
           "app_root": str(APPS)}


def test_each_instance_is_a_program_on_its_own_port_frozen_between_requests(
    tmp_path: Path,
) -> None:
    with gateway(tmp_path, **COMMAND, app_ready="GET /health") as gw:
        first = gw.get("/hello?x=1", headers={"X-Test": "yes"})
        assert first.status == 200 and first.headers["x-app"] == "http-command"
        doc = first.json()
        assert (doc["method"], doc["path"], doc["instance"]) == ("GET", "/hello?x=1", "i1")
        assert doc["headers"]["x-test"] == "yes" and doc["control"] is True
        assert doc["web_concurrency"] == "1" and doc["cwd"] == str(APPS)
        assert os.getpgid(doc["pid"]) == doc["pid"]  # its own process group
        assert wait_until(lambda: stopped(doc["pid"]))  # frozen: nothing in flight
        echo = gw.get("/echo", data=b"\xffbody", headers={"Content-Type": "text/x"})
        assert (echo.status, echo.body, echo.headers["content-type"]) == (200, b"\xffbody",
                                                                           "text/x")
        assert gw.get("/chunked").body == b"one,two"
        assert gw.get("/hello").json()["pid"] == doc["pid"]  # thawed, the same instance
        stats = gw.stats()
        assert stats["cold_starts"] == 1 and stats["init_failures"] == 0
        assert stats["cold_start_events"][0]["duration_ms"] > 0
    log = (tmp_path / "gateway.log").read_text()
    assert "instance i1: listening on" in log and "instance i1: GET /hello?x=1" in log
    assert not psutil.pid_exists(doc["pid"]) or \
        psutil.Process(doc["pid"]).status() == psutil.STATUS_ZOMBIE


def test_concurrency_packs_requests_and_instances_get_their_own_ports(tmp_path: Path) -> None:
    with gateway(tmp_path, **COMMAND, instance_concurrency=3) as gw:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: gw.get("/slow?ms=400"), range(6)))
        assert [a.status for a in answers] == [200] * 6
        assert gw.stats()["cold_starts"] == 2
        pids = {i["pid"] for i in gw.instances()}
        ports = {c.laddr.port for pid in pids for c in psutil.Process(pid).net_connections()
                 if c.status == psutil.CONN_LISTEN}
        assert len(pids) == 2 and len(ports) == 2


@pytest.mark.parametrize(("knobs", "error"), [
    ({"app_env": {"FAIL_INIT": "no database"}}, "exited during its init: init failed: no "
                                               "database"),
    ({"app_env": {"SLOW_INIT_S": "30"}, "startup_timeout_s": 1.0},
     "not ready within 1 s (an HTTP answer on its port): no output"),
    ({"app_command": ("no-such-program-here",)},
     "exited during its init: cannot start 'no-such-program-here': No such file or directory"),
])
def test_an_init_failure_quotes_the_last_line(tmp_path: Path, knobs: dict[str, Any],
                                              error: str) -> None:
    with gateway(tmp_path, **{**COMMAND, **knobs}) as gw:
        answer = gw.get("/hello")
        assert answer.status == 502
        assert answer.json()["error"]["message"] == f"platform: instance init failed: {error}"
        stats = gw.stats()
        assert stats["init_failures"] == 1 and stats["init_errors"][0]["error"] == error
        assert stats["cold_starts"] == 0


def test_pending_work_keeps_the_instance_busy_and_exceptions_are_counted(
    tmp_path: Path,
) -> None:
    with gateway(tmp_path, **COMMAND) as gw:
        later = gw.get("/later?ms=1500")
        assert later.status == 200
        (instance,) = gw.instances()
        assert instance["state"] == "busy" and not stopped(instance["pid"])
        assert wait_until(lambda: gw.instances()[0]["state"] == "frozen", 30.0)
        assert stopped(instance["pid"])
        assert gw.get("/boom").status == 500
        assert gw.stats()["exceptions"] == 1
    log = (tmp_path / "gateway.log").read_text()
    assert "unhandled exception: ValueError: boom (http_command.py:62)" in log


def test_an_instance_that_exits_is_a_crash_and_the_next_request_starts_another(
    tmp_path: Path,
) -> None:
    with gateway(tmp_path, **COMMAND) as gw:
        first = gw.get("/hello").json()
        crash = gw.get("/crash")
        assert crash.status == 502 and crash.json()["error"]["message"] == \
            "platform: instance i1 exited"
        assert gw.stats()["crashed"] == 1
        assert gw.get("/hello").json()["instance"] == "i2" != first["instance"]


def test_reaped_instances_are_killed(tmp_path: Path) -> None:
    with gateway(tmp_path, **COMMAND, idle_timeout_s=0.5) as gw:
        pid = gw.get("/hello").json()["pid"]
        assert wait_until(lambda: gw.stats()["reaped"] == 1)
        assert wait_until(lambda: not psutil.pid_exists(pid)
                          or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
