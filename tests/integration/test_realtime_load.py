"""Realtime through the whole pipeline: Locust subscribers and publishers, the CLI's run
folder and summary, on the persistent target and on the serverless platform (max_duration).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.integration.pipeline_helpers import metrics, run_complete

pytestmark = pytest.mark.integration

SCENARIO = """
name = "realtime"
description = "subscribers and publishers on both targets"
repeats = 1

[collect]
interval = "100ms"

[database]
max_connections = 60

[load]
think_time = ["100ms", "200ms"]
endpoints = { events = 0.3, publish = 0.7 }  # at 0.5 each, 1 CI run never published
subscribe_duration = "3s"
stages = [{ duration = "6s", users = 4, spawn_rate = 20 }]

[target.serverless]
max_duration = "1s"
idle_timeout = "60s"

[[variants]]
name = "persistent"
target = "persistent"

[[variants]]
name = "serverless"
target = "serverless"
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_complete(tmp_path_factory.mktemp("realtime"), SCENARIO)


def lost_by_hand(variant_dir: Path) -> int:
    """Due messages (table rows after a subscriber's first ready, before its last end, less
    the stop grace) that the subscriber did not log."""
    log = pd.read_parquet(variant_dir / "realtime.parquet")
    table = pd.read_parquet(variant_dir / "realtime_published.parquet")
    lost = 0
    for _, rows in log.groupby("subscriber"):
        starts, ends = rows[rows["kind"] == "start"], rows[rows["kind"] == "end"]
        if starts.empty:
            continue
        last = ends.loc[ends["t"].idxmax()]
        until = last["t"] - (1.0 if last["reason"] == "stopped" else 0.0)
        first = starts.loc[starts["t"].idxmin(), "after_id"]
        due = set(table.loc[(table["id"] > first) & (table["published_at"] <= until), "id"])
        lost += len(due - set(rows.loc[rows["kind"] == "message", "message_id"]))
    return lost


def test_persistent_delivers_every_message_through_one_listen_connection(run_dir: Path) -> None:
    m = metrics(run_dir, "persistent")
    assert m["realtime.subscribers.peak"] >= 1 and m["realtime.published"] > 0
    assert m["realtime.delivered"] > 0 and m["realtime.delivery_ms.p95"] is not None
    assert m["realtime.lost"] == 0 == lost_by_hand(run_dir / "persistent" / "1")
    assert m["realtime.disconnects"] == 0
    assert m["realtime.listen_connections.peak"] == 1


def test_serverless_cuts_streams_at_max_duration_and_counts_loss_exactly(run_dir: Path) -> None:
    m = metrics(run_dir, "serverless")
    assert m["realtime.published"] > 0 and m["realtime.delivered"] > 0
    assert m["realtime.disconnects"] >= 1  # 3 s windows, streams cut after 1 s
    assert m["realtime.lost"] == lost_by_hand(run_dir / "serverless" / "1")
    log = pd.read_parquet(run_dir / "serverless" / "1" / "realtime.parquet")
    assert set(log.loc[log["kind"] == "end", "reason"]) <= {"cut", "done", "stopped"}
    assert 1 <= m["realtime.listen_connections.peak"] <= m["realtime.subscribers.peak"]
