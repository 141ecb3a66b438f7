"""Unit tests of response classification (error kind, instance, counter)."""

from __future__ import annotations

import json

import pytest

from harness.load.outcome import Outcome, classify


def body(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_success_reads_instance_and_counter() -> None:
    assert classify(200, body({"counter": 41, "instance": "1234"}), None) == Outcome("", "1234", 41)
    assert classify(201, body({"id": 3, "instance": 77}), None) == Outcome("", "77", -1)
    assert classify(204, b"", None) == Outcome("", "", -1)


def test_success_ignores_an_error_member() -> None:
    assert classify(200, body({"error": {"kind": "db_other"}}), None).kind == ""


def test_error_kind_from_the_body() -> None:
    err = {"error": {"kind": "db_too_many_connections", "sqlstate": "53300", "message": "m"}}
    assert classify(503, body({**err, "instance": "i-3"}), None) == Outcome(
        "db_too_many_connections", "i-3", -1
    )
    assert classify(500, body({"error": {"kind": "db_other"}}), None).kind == "db_other"


@pytest.mark.parametrize(
    ("status", "payload", "kind"),
    [
        (429, b'{"detail": "slow down"}', "http_429"),
        (503, b"Service Unavailable", "http_5xx"),
        (502, b"", "http_5xx"),
        (404, b"{}", "http_4xx"),
        (400, b'{"error": "text, not an object"}', "http_4xx"),
        (500, b'{"error": {"kind": 5}}', "http_5xx"),
        (500, b"[1, 2]", "http_5xx"),
        (500, b"{broken", "http_5xx"),
        (302, b"", "http_4xx"),
    ],
)
def test_kind_from_the_status(status: int, payload: bytes, kind: str) -> None:
    assert classify(status, payload, None).kind == kind


class RetriesExceeded(Exception):
    """Like geventhttpclient's: the real error is in ``original``."""

    def __init__(self, original: BaseException) -> None:
        super().__init__("retries exceeded")
        self.original = original


class Timeout(BaseException):
    """Like gevent.Timeout (a BaseException named Timeout)."""


def test_no_response_is_timeout_or_connection_error() -> None:
    assert classify(0, None, TimeoutError("x")).kind == "timeout"
    assert classify(0, None, TimeoutError("timed out")).kind == "timeout"
    assert classify(0, None, RetriesExceeded(TimeoutError("timed out"))).kind == "timeout"
    assert classify(0, None, RetriesExceeded(Timeout())).kind == "timeout"
    assert classify(0, None, ConnectionRefusedError(111, "refused")).kind == "connection_error"
    assert classify(0, None, ConnectionResetError()).kind == "connection_error"
    assert classify(0, None, None) == Outcome("connection_error", "", -1)


def test_timeout_found_through_the_cause_chain() -> None:
    try:
        try:
            raise TimeoutError("inner")
        except TimeoutError as inner:
            raise OSError("wrapped") from inner
    except OSError as outer:
        assert classify(0, None, outer).kind == "timeout"


def test_counter_must_be_an_integer() -> None:
    assert classify(200, body({"counter": True}), None).counter == -1
    assert classify(200, body({"counter": "3"}), None).counter == -1
    assert classify(200, body({"counter": 0}), None).counter == 0
