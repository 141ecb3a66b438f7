"""Realtime on both targets: /events subscribers, /publish, LISTEN connections, max_duration.

Real PostgreSQL, the real persistent target and the real platform gateway; subscribers are
plain HTTP clients reading the event stream with harness.load.sse.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness.load.sse import SseParser
from harness.runtime.process import PostgresCluster
from tests.integration.test_platform import call, gateway, wait_until
from tests.integration.test_targets import persistent

pytestmark = pytest.mark.integration

LISTENING = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%%' " \
            "AND application_name = %s"


class Subscriber:
    """One /events stream read in a thread: its ready after_id, message ids, how it ended."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)
        self.after_id: int | None = None
        self.ids: list[int] = []
        self.ended = ""  # "" while open; "end" event, "eof", or "closed" (by the test)
        self.ready = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        parser = SseParser()
        try:
            self.conn.request("GET", "/events")
            resp = self.conn.getresponse()
            assert resp.status == 200, resp.read()
            while chunk := resp.read1(65536):
                for event in parser.feed(chunk):
                    self._event(event.event, json.loads(event.data))
            self.ended = self.ended or "eof"
        except (OSError, http.client.HTTPException):
            self.ended = self.ended or "closed"
        finally:
            self.conn.close()
            self.ready.set()
            self.done.set()

    def _event(self, name: str, data: dict[str, object]) -> None:
        if name == "ready":
            self.after_id = int(str(data["after_id"]))
            self.ready.set()
        elif name == "message":
            self.ids.append(int(str(data["id"])))
        elif name == "end":
            self.ended = "end"

    def close(self) -> None:
        self.ended = self.ended or "closed"
        sock = self.conn.sock
        if sock is not None:
            sock.shutdown(2)
        self.done.wait(30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    tmp = tmp_path_factory.mktemp("pg")
    with PostgresCluster(workdir=tmp, max_connections=40, log_path=tmp / "postgres.log") as pg:
        yield pg


def listening(cluster: PostgresCluster, app_name: str) -> int:
    with psycopg.connect(cluster.monitor_dsn, autocommit=True) as conn:
        row = conn.execute(LISTENING, (app_name,)).fetchone()
    return int(row[0]) if row else 0


def published_ids(cluster: PostgresCluster, after: int = 0) -> list[int]:
    with psycopg.connect(cluster.monitor_dsn, autocommit=True) as c:
        rows = c.execute("SELECT id FROM realtime_messages WHERE id > %s ORDER BY id",
                         (after,)).fetchall()
    return [int(r[0]) for r in rows]


def publish(url: str, n: int) -> list[int]:
    out = []
    for _ in range(n):
        status, body = call(f"{url}/publish", "POST")
        assert status == 200, body
        out.append(int(body["id"]))
    return out


def test_persistent_one_listen_connection_delivers_every_message_to_every_subscriber(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    app = "rt-persistent"
    with persistent(tmp_path, cluster.app_dsn, PGSTAMPEDE_APP_NAME=app) as url:
        subs = [Subscriber(url) for _ in range(3)]
        assert all(s.ready.wait(60) and s.after_id is not None for s in subs)
        assert listening(cluster, app) == 1
        sent = publish(url, 5)
        assert wait_until(lambda: all(len(s.ids) >= 5 for s in subs))
        expected = [i for i in published_ids(cluster) if i > max(s.after_id or 0 for s in subs)]
        assert expected == sent
        for sub in subs:
            assert sub.ids == sent and sub.ended == ""
            sub.close()
        assert wait_until(lambda: listening(cluster, app) == 0)


def test_serverless_listen_per_instance_cut_at_max_duration_loses_later_messages(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    with gateway(cluster, tmp_path, max_duration_s=5.0, idle_timeout_s=300.0) as gw:
        subs = [Subscriber(gw.url) for _ in range(2)]
        assert all(s.ready.wait(60) and s.after_id is not None for s in subs)
        busy = [i for i in gw.instances() if i["state"] == "busy"]
        assert len(busy) == 2  # a subscription holds its instance (instance_concurrency 1)
        assert listening(cluster, gw.app_name) == 2
        before_cut = publish(gw.url, 3)  # runs on a third instance: the two are busy
        assert all(s.done.wait(60) for s in subs)  # cut by the platform at max_duration
        after_cut = publish(gw.url, 2)
        for sub in subs:
            assert sub.ended == "eof"
            assert sub.ids == before_cut
            assert not set(after_cut) & set(sub.ids)
        table = published_ids(cluster, min(s.after_id or 0 for s in subs))
        assert table == before_cut + after_cut
        assert wait_until(lambda: listening(cluster, gw.app_name) == 0)
        assert wait_until(lambda: all(i["state"] == "frozen" for i in gw.instances()))
