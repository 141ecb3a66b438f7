"""PlatformConfig, the token bucket and the wire format: pure parts of the platform."""

from __future__ import annotations

import asyncio

import pytest

from harness.apphost.wire import HEADER, encode, read_frame
from harness.errors import InputError
from harness.platform.bucket import TokenBucket
from harness.platform.config import PlatformConfig
from harness.platform.protocol import decode_request, encode_request
from harness.results.endpoints import error_body


def test_defaults_follow_lambda() -> None:
    c = PlatformConfig()
    assert (c.max_instances, c.instance_concurrency, c.scale_rate) == (1000, 1, 100.0)
    assert (c.reap, c.when_full, c.cold_start, c.db_client, c.freeze) == (
        "kill",
        "queue",
        "fork",
        "connection",
        True,
    )
    assert c.max_lifetime_s == 0.0 and c.idle_timeout_s == 30.0 and c.pool_max == 5


def test_json_round_trip() -> None:
    c = PlatformConfig(max_instances=7, idle_timeout_s=1.5, reap="abandon", dsn="postgresql://x")
    assert PlatformConfig.from_json(c.to_json()) == c


def test_app_fields_round_trip() -> None:
    c = PlatformConfig(
        app_kind="wsgi",
        app_entry="shop.main:create_app",
        app_factory=True,
        app_root="/srv/shop",
        app_python="/srv/venv/bin/python",
        app_env={"DATABASE_URL": "postgresql://x"},
        app_preload=("json", "sqlite3"),
        max_duration_s=2.5,
    )
    assert c.is_app and not PlatformConfig().is_app
    again = PlatformConfig.from_json(c.to_json())
    assert again == c and again.app_preload == ("json", "sqlite3")


def test_ints_are_accepted_for_floats() -> None:
    assert PlatformConfig.from_json('{"idle_timeout_s": 2}').idle_timeout_s == 2.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"reap": "nuke"}', "reap = 'nuke', expected one of ['kill', 'abandon']"),
        ('{"when_full": "drop"}', "when_full"),
        ('{"max_instances": 0}', "max_instances must be >= 1"),
        ('{"scale_rate": 0}', "scale_rate must be > 0"),
        ('{"idle_timeout_s": -1}', "idle_timeout_s must be >= 0"),
        ('{"bogus": 1}', "unknown keys ['bogus']"),
        ('{"freeze": "yes"}', "freeze = 'yes', expected bool"),
        ('{"statement_cache_size": "big"}', "statement_cache_size"),
        ('{"app_kind": "rsgi"}',
         "app_kind = 'rsgi', expected one of ['', 'asgi', 'wsgi', 'command']"),
        ('{"app_kind": "asgi", "app_entry": "shop"}', "app_entry must be 'module:attribute'"),
        ('{"app_env": {"A": 1}}', "app_env = {'A': 1}, expected dict"),
        ('{"app_preload": "json"}', "app_preload = 'json', expected tuple"),
        ('{"max_duration_s": -1}', "max_duration_s must be >= 0"),
        ('{"ssl": "require"}', "ssl must be '' or 'disable'"),
        ("[1]", "expected a JSON object"),
        ("{", "not valid JSON"),
    ],
)
def test_invalid_config_is_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        PlatformConfig.from_json(text)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_handler_env() -> None:
    env = PlatformConfig(dsn="postgresql://a", statement_cache_size="0", pool_max=3).handler_env()
    assert env["PGSTAMPEDE_DSN"] == "postgresql://a"
    assert env["PGSTAMPEDE_STATEMENT_CACHE_SIZE"] == "0"
    assert env["PGSTAMPEDE_POOL_MAX"] == env["PGSTAMPEDE_POOL_MIN"] == "3"
    assert env["PGSTAMPEDE_SSL"] == ""  # asyncpg's default unless the harness says otherwise
    assert PlatformConfig(dsn="postgresql://a", ssl="disable").handler_env()[
        "PGSTAMPEDE_SSL"] == "disable"


def test_token_bucket_bursts_then_paces() -> None:
    bucket = TokenBucket(rate=10.0, burst=10.0, now=0.0)
    assert sum(bucket.take(0.0) for _ in range(20)) == 10
    assert bucket.wait_s(0.0) == pytest.approx(0.1)
    assert not bucket.take(0.05)
    assert bucket.take(0.1)
    assert sum(bucket.take(100.0) for _ in range(50)) == 10  # never more than the burst


def test_token_bucket_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0.0, burst=1.0, now=0.0)


def test_request_round_trip() -> None:
    frame = encode_request(7, "POST", "/slow", "ms=5&x=", b"\xffbody")
    length, msg_id, code = HEADER.unpack(frame[: HEADER.size])
    assert (length, msg_id, code) == (len(frame) - HEADER.size, 7, 0)
    req = decode_request(frame[HEADER.size :])
    assert (req.method, req.path, req.query, req.body) == (
        "POST",
        "/slow",
        {"ms": "5", "x": ""},
        b"\xffbody",
    )


def test_read_frame_and_end_of_stream() -> None:
    async def scenario() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(encode(3, 503, error_body("db_pool_timeout", "m")) + encode(4, 200, b""))
        reader.feed_data(encode(5, 200, b"{}")[:5])  # truncated
        reader.feed_eof()
        first = await read_frame(reader)
        assert first is not None and (first.id, first.code) == (3, 503)
        assert b'"kind":"db_pool_timeout"' in first.payload
        second = await read_frame(reader)
        assert second is not None and second.payload == b""
        assert await read_frame(reader) is None

    asyncio.run(scenario())
