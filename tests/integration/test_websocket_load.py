"""WebSocket subscribers as a population of their own (``[load] subscribers``, over the
``/events`` twin, ``subscribe_transport = "websocket"``) through the whole pipeline: the
persistent target holds every subscriber; the platform cuts them at a short max_duration
(they reconnect, and count as disconnects); a platform without WebSockets refuses them,
counted by kind. The request users publish and read meanwhile."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.integration.pipeline_helpers import metrics, run_complete

pytestmark = pytest.mark.integration

SCENARIO = """
name = "websocket-subscribers"
repeats = 1

[collect]
interval = "100ms"

[database]
max_connections = 60

[load]
think_time = ["100ms", "200ms"]
endpoints = { publish = 0.5, read = 0.5 }
subscribers = 3
subscribe_transport = "websocket"
stages = [{ duration = "6s", users = 2, spawn_rate = 20 }]

[target.serverless]
max_duration = "1500ms"
idle_timeout = "60s"

[[variants]]
name = "persistent"
target = "persistent"

[[variants]]
name = "serverless"
target = "serverless"

[[variants]]
name = "no-websockets"
target = "serverless"
target_overrides = { websockets = false }
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_complete(tmp_path_factory.mktemp("ws-load"), SCENARIO)


def test_persistent_holds_every_subscriber(run_dir: Path) -> None:
    m = metrics(run_dir, "persistent")
    assert m["realtime.subscribers.peak"] == 3 and m["realtime.published"] > 0
    assert m["realtime.disconnects"] == 0 and m["realtime.lost"] == 0
    assert m["realtime.delivered"] > 0  # every message due to a subscriber reached it
    assert m["realtime.listen_connections.peak"] == 1
    log = pd.read_parquet(run_dir / "persistent" / "1" / "realtime.parquet")
    assert log["subscriber"].nunique() == 3  # one window each, the whole run
    assert set(log.loc[log["kind"] == "end", "reason"]) == {"stopped"}


def test_the_platform_cuts_them_at_max_duration_and_they_reconnect(run_dir: Path) -> None:
    m = metrics(run_dir, "serverless")
    assert m["realtime.disconnects"] >= 3  # each subscriber cut at least once in 6 s
    assert m["realtime.delivered"] > 0 and m["http.requests"] > 0
    log = pd.read_parquet(run_dir / "serverless" / "1" / "realtime.parquet")
    assert log["subscriber"].nunique() == 3
    assert (log.groupby("subscriber")["subscription"].max() >= 2).all()  # reconnected
    assert "cut" in set(log.loc[log["kind"] == "end", "reason"])


def test_a_platform_without_websockets_refuses_them_by_kind(run_dir: Path) -> None:
    m = metrics(run_dir, "no-websockets")
    assert m["errors.websocket_refused"] > 0
    assert m["realtime.delivered"] == 0
    requests = pd.read_parquet(run_dir / "no-websockets" / "1" / "requests.parquet")
    events = requests[requests["endpoint"] == "events"]
    assert set(events["status"]) == {426} and set(events["kind"]) == {"websocket_refused"}
    reads = requests[requests["endpoint"] == "read"]
    assert not reads.empty and set(reads["kind"]) == {""}  # the request users were served
