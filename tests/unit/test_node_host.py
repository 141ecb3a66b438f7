"""The Node host for Vercel-style function files (harness/apphost/node), run with the
machine's ``node`` (or ``$PGSTAMPEDE_TEST_NODE``) and real HTTP on 127.0.0.1: every handler
signature, Vercel's helpers, the request context's waitUntil, the control channel, exceptions
with the app's own frame, init failures and the stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.apphost.node import HOST, host_command, node_problem, node_version
from tests.nodehost import RunningHost, first_stdout_line, node_binary, node_host, start_host

APP = Path(__file__).parents[1] / "apps" / "node_host"
ROUTES = {
    "/api/node-cjs": "api/node-cjs.js",
    "/api/node-esm": "api/node-esm.mjs",
    "/api/typed": "esm/typed.js",
    "/api/fetch": "api/fetch.mjs",
    "/api/items/[id]": "api/items/[id].mjs",
    "/api/route-cjs": "api/route-cjs.js",
    "/api/throws": "api/throws.js",
    "/api/returns-nothing": "api/returns-nothing.mjs",
    "/api/wait": "api/wait.mjs",
    "/api/wait-fails": "api/wait-fails.mjs",
    "/api/wait-after": "api/wait-after.js",
    "/api/env": "api/env.js",
    "/api/own-server": "api/own-server.js",
    "/api/connect-like": "api/connect-like.js",
}


@pytest.fixture(scope="module")
def host() -> Any:
    with node_host(APP, ROUTES) as running:
        yield running


def line_of(file: str, text: str) -> int:
    """The 1-based line of ``file`` (under APP) holding ``text``."""
    lines = (APP / file).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def quiet(host: RunningHost) -> int:
    """Wait until nothing is pending (earlier tests' responses settled); the counts so far."""
    return len(host.pending_until(lambda counts: counts[-1:] in ([], [0])))


def exceptions(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["exception"] for m in messages if "exception" in m]


def test_node_signature_commonjs_parses_query_json_body_and_cookies(host: RunningHost) -> None:
    reply = host.request("POST", "/api/node-cjs?a=1&a=2&b=x", b'{"qty": 2}',
                         {"Content-Type": "application/json", "Cookie": "s=abc%20d; t=2"})
    assert reply.status == 201
    assert reply.header("content-type") == "application/json; charset=utf-8"
    assert (reply.header("etag") or "").startswith('W/"')
    assert reply.json() == {"method": "POST", "query": {"a": ["1", "2"], "b": "x"},
                            "body": {"qty": 2}, "cookies": {"s": "abc d", "t": "2"}}


@pytest.mark.parametrize(("content_type", "body", "parsed"), [
    ("application/x-www-form-urlencoded", b"a=1&b=2&b=3", {"a": "1", "b": ["2", "3"]}),
    ("text/plain; charset=utf-8", b"plain words", "plain words"),
    ("application/octet-stream", b"\x01raw", {"buffer": "\x01raw"}),
    ("application/json", b"", {}),
    ("image/png", b"png", None),
])
def test_node_signature_body_follows_the_content_type(host: RunningHost, content_type: str,
                                                      body: bytes, parsed: Any) -> None:
    reply = host.request("POST", "/api/node-cjs", body, {"Content-Type": content_type})
    assert reply.status == 201
    assert reply.json()["body"] == parsed


def test_invalid_json_is_a_400_and_not_an_exception_of_the_app(host: RunningHost) -> None:
    reply = host.request("POST", "/api/node-cjs", b"{bad", {"Content-Type": "application/json"})
    assert (reply.status, reply.body) == (400, b"Invalid JSON\n")
    assert not [e for e in exceptions(host.control()) if e["message"] == "Invalid JSON"]


def test_node_signature_esm_and_package_type_module(host: RunningHost) -> None:
    reply = host.request("GET", "/api/node-esm?name=ann")
    assert (reply.status, reply.body) == (200, b"hello ann")
    assert reply.header("content-type") == "text/html; charset=utf-8"
    assert host.request("GET", "/api/typed").json() == {"module": "esm"}


def test_fetch_export_serves_every_method_with_a_web_request(host: RunningHost) -> None:
    reply = host.request("PUT", "/api/fetch?q=7", b"payload")
    assert reply.status == 200
    assert reply.json() == {"method": "PUT", "path": "/api/fetch", "q": "7", "body": "payload"}


def test_route_handlers_get_params_and_post_with_several_cookies(host: RunningHost) -> None:
    assert host.request("GET", "/api/items/42").json() == {"id": "42"}
    assert host.request("GET", "/api/items/a%20b/").json() == {"id": "a b"}
    reply = host.request("POST", "/api/items/1", b'{"z": 2}', {"Content-Type": "application/json"})
    assert (reply.status, reply.json()) == (202, {"z": 2})
    assert reply.header("x-handler") == "post"
    assert reply.headers_named("set-cookie") == [
        "a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2035 07:28:00 GMT"]


def test_route_handlers_without_the_method_answer_405_with_allow(host: RunningHost) -> None:
    reply = host.request("DELETE", "/api/items/1")
    assert reply.status == 405
    assert set((reply.header("allow") or "").split(", ")) == {"GET", "HEAD", "POST"}
    assert host.request("HEAD", "/api/items/1").status == 200  # HEAD served by GET


def test_route_handlers_from_commonjs_exports(host: RunningHost) -> None:
    reply = host.request("GET", "/api/route-cjs")
    assert (reply.status, reply.body) == (200, b"cjs route")


def test_unknown_path_is_404(host: RunningHost) -> None:
    assert host.request("GET", "/api/missing").status == 404
    assert host.request("GET", "/api/items").status == 404


def test_exception_answers_500_and_reports_the_apps_own_frame(host: RunningHost) -> None:
    reply = host.request("GET", "/api/throws")
    assert reply.status == 500
    where = f"api/throws.js:{line_of('api/throws.js', 'throw new RangeError')}"
    messages = host.control_until(lambda ms: any(e["type"] == "RangeError" for e in exceptions(ms)))
    expected = {"type": "RangeError", "message": "card declined", "where": where}
    assert expected in exceptions(messages)


def test_a_handler_returning_no_response_is_a_500_naming_the_file(host: RunningHost) -> None:
    assert host.request("GET", "/api/returns-nothing").status == 500
    messages = host.control_until(lambda ms: any("not a Response" in e["message"]
                                                 for e in exceptions(ms)))
    report = next(e for e in exceptions(messages) if "not a Response" in e["message"])
    assert report["type"] == "TypeError"
    assert "returns-nothing.mjs: GET returned undefined" in report["message"]


def test_every_response_is_pending_from_its_end_until_one_turn_after(host: RunningHost) -> None:
    before = quiet(host)
    assert host.request("GET", "/api/node-esm").status == 200
    assert host.pending()[before:before + 1] == [1]  # told before the response's bytes left
    assert host.pending_until(lambda ps: ps[before:] == [1, 0])[before:] == [1, 0]


def test_wait_until_is_pending_before_the_response_and_settles_after(host: RunningHost) -> None:
    before = quiet(host)
    reply = host.request("GET", "/api/wait?ms=300", headers={"X-Probe": "p1"})
    assert reply.json() == {"headers": "p1"}  # the context's headers are the request's
    # Written synchronously by waitUntil(): already in the pipe when the response arrives.
    assert host.pending()[before:before + 2] == [1, 2]
    # waitUntil's promise, then the response's end: it falls to 0 when the promise settled.
    assert host.pending_until(lambda ps: ps[-1:] == [0])[before:] == [1, 2, 1, 0]


def test_wait_until_after_the_response_is_told_before_the_response(host: RunningHost) -> None:
    for _ in range(20):
        before = quiet(host)
        assert host.request("GET", "/api/wait-after").status == 202
        assert host.pending()[before:before + 1] == [1]
        # The response's end (1), waitUntil after it (2), the end's turn over (1), settled (0):
        # the count never fell to 0 between the response and the waitUntil call.
        counts = host.pending_until(lambda ps, n=before: ps[n:][-1:] == [0] and len(ps) > n + 1)
        assert counts[before:] == [1, 2, 1, 0]


def test_failing_wait_until_work_is_reported_and_the_host_serves_on(host: RunningHost) -> None:
    assert host.request("GET", "/api/wait-fails").json() == {"queued": True}
    messages = host.control_until(lambda ms: any(e["message"] == "smtp down"
                                                 for e in exceptions(ms)))
    where = f"api/wait-fails.mjs:{line_of('api/wait-fails.mjs', 'smtp down')}"
    assert {"type": "Error", "message": "smtp down", "where": where} in exceptions(messages)
    assert host.pending_until(lambda ps: ps[-1:] == [0])[-1] == 0
    assert host.request("GET", "/api/node-esm").status == 200


def test_a_file_that_starts_its_own_server_gets_the_requests(host: RunningHost) -> None:
    reply = host.request("POST", "/api/own-server?x=1")
    assert (reply.status, reply.body) == (200, b"own server saw POST /api/own-server?x=1")


def test_an_app_with_listen_gets_no_vercel_helpers(host: RunningHost) -> None:
    assert host.request("GET", "/api/connect-like?a=1").json() == {
        "hasQueryHelper": False, "hasJsonHelper": False}


def test_persistent_mode_sets_no_vercel_variables_and_runs_in_root(host: RunningHost) -> None:
    body = host.request("GET", "/api/env").json()
    assert body["env"] == {"VERCEL": None, "VERCEL_ENV": None, "VERCEL_REGION": None,
                           "VERCEL_URL": None}
    assert Path(body["cwd"]) == APP


def test_function_mode_sets_vercels_variables() -> None:
    with node_host(APP, {"/api/env": "api/env.js"}, function=True) as host:
        env = host.request("GET", "/api/env").json()["env"]
        assert env == {"VERCEL": "1", "VERCEL_ENV": "production", "VERCEL_REGION": "dev1",
                       "VERCEL_URL": f"127.0.0.1:{host.port}"}


def test_a_file_failing_at_init_ends_the_host_with_its_error() -> None:
    process, _, read_fd = start_host(APP, {"/api/broken": "api/broken.js"})
    try:
        assert first_stdout_line(process) == ""
        _, err = process.communicate(timeout=30)
        control = [json.loads(line) for line in _read_all(read_fd).splitlines()]
    finally:
        os.close(read_fd)
    assert process.returncode == 1
    where = f"api/broken.js:{line_of('api/broken.js', 'JSON.parse')}"
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("pgstampede node host: api/broken.js failed to load: SyntaxError: ")
    assert last.endswith(f"({where})")
    assert control[0]["exception"]["type"] == "SyntaxError"
    assert control[0]["exception"]["where"] == where


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_sigterm_waits_for_pending_wait_until_work() -> None:
    with node_host(APP, {"/api/wait": "api/wait.mjs"}) as host:
        host.request("GET", "/api/wait?ms=500")
        code, _ = host.stop(signal.SIGTERM)
        assert code == 0
        assert host.pending()[-1] == 0


@pytest.mark.parametrize(("argv", "message"), [
    ([], "no --route given"),
    (["--route", "api/x.js"], "--route api/x.js: expected /path=file"),
    (["--route", "/x=x.js", "--port", "http"],
     'port: expected a number from 0 to 65535, got "http"'),
    (["--route", "/x=x.js", "--bogus"], "unknown argument --bogus"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv: list[str], message: str) -> None:
    done = subprocess.run([node_binary(), str(HOST), *argv], capture_output=True, text=True,
                          timeout=30, check=False)
    assert (done.returncode, done.stderr) == (2, f"pgstampede node host: {message}\n")


def test_set_cookie_split_where_headers_lack_get_set_cookie() -> None:
    """Node 18's Headers joins Set-Cookie values with ", " (no getSetCookie)."""
    script = (
        f"import {{ setCookies }} from {json.dumps((HOST.parent / 'web.mjs').as_uri())};"
        "const joined = 'a=1; Path=/, b=2; Expires=Wed, 21 Oct 2035 07:28:00 GMT, c=3';"
        "console.log(JSON.stringify(setCookies({ get: () => joined })));"
    )
    done = subprocess.run([node_binary(), "--input-type=module", "-e", script],
                          capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(done.stdout) == [
        "a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2035 07:28:00 GMT", "c=3"]


def test_host_command_lists_routes_and_modes() -> None:
    command = host_command("node", Path("/app"), {"/a": "a.js", "/b/[id]": "b.mjs"},
                           function=True, websockets=False, port=20001)
    assert command == ["node", str(HOST), "--root", "/app", "--route", "/a=a.js",
                       "--route", "/b/[id]=b.mjs", "--function", "--no-websockets",
                       "--port", "20001"]


def test_node_version_and_problem_with_the_machines_node() -> None:
    version = node_version(node_binary())
    assert version is not None and version[0] >= 18
    assert node_problem(node_binary()) is None


@pytest.mark.parametrize(("prints", "problem"), [
    ("v16.20.2", "is Node.js 16.20.2: the Node host needs 18 or newer"),
    ("hello", "--version does not print a Node.js version"),
])
def test_node_problem_names_an_old_or_odd_node(tmp_path: Path, prints: str, problem: str) -> None:
    fake = tmp_path / "node"
    fake.write_text(f"#!/bin/sh\necho {prints}\n")
    fake.chmod(0o755)
    assert node_problem(str(fake)) == f"{fake} {problem}"


def test_node_problem_when_node_is_missing(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-node")
    assert node_problem(missing) == (
        f"{missing} not found (install Node.js 18 or newer: make setup does)")


def test_an_exception_outside_handlers_is_reported_then_ends_the_process() -> None:
    with node_host(APP, {"/api/crash-later": "api/crash-later.js"}) as host:
        assert host.request("GET", "/api/crash-later").body == b"bye"
        code = host.process.wait(timeout=30)
        where = f"api/crash-later.js:{line_of('api/crash-later.js', 'late crash')}"
        assert code == 1
        assert {"type": "TypeError", "message": "late crash", "where": where} in exceptions(
            host.control())
