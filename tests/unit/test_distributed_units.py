"""Distributed load, pure parts: the coordinator's protocol over real HTTP on 127.0.0.1,
per-worker records and metrics (saturation per worker host, lost workers), the workers
frame, and the --bind / --allow-address checks."""

from __future__ import annotations

import argparse
import http.client
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from harness.analysis import metrics as analysis_metrics
from harness.analysis.findings import findings
from harness.analysis.metrics import VariantContext, compute_metrics
from harness.analysis.run import VariantRun
from harness.analysis.workers import WORKER_METRICS, saturated_workers, worker_metrics
from harness.cli import SCENARIOS_DIR, build_parser, cmd_worker, distributed_load
from harness.errors import InputError, LoadError
from harness.load.coordinator import Coordinator, WorkerOutcome
from harness.load.distributed import DistributedRunner
from harness.load.worker import MasterClient
from harness.load.worker_stats import (
    locust_saturated,
    lost_problem,
    worker_record,
    workers_frame,
)
from harness.results.frames import FRAME_NAMES, FRAME_SCHEMAS, coerce_frame, empty_frame
from harness.runtime.loopback import check_local_address, parse_bind
from harness.runtime.ports import free_port
from harness.scenario import load_scenario
from tests.synthetic import bare_record, variant_summary


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_variant_is_offered_to_as_many_workers_as_wanted(tmp_path: Path) -> None:
    clock = Clock()
    with Coordinator("127.0.0.1", free_port(), clock=clock) as coordinator:
        client = MasterClient("127.0.0.1", coordinator.port)
        assert client.poll("w1") == {"state": "wait"}
        assert client.poll("w2") == {"state": "wait"}
        assert coordinator.idle_workers() == ["w1", "w2"]
        assert coordinator.workers["w1"].address == "127.0.0.1"
        offer = coordinator.open_offer({"stages": []}, 4242, tmp_path, wanted=1)
        reply = client.poll("w2")
        assert reply["state"] == "variant" and reply["id"] == offer.id
        assert reply["locust_port"] == 4242 and reply["plan"] == {"stages": []}
        assert client.poll("w1") == {"state": "wait"}  # one was wanted
        assert coordinator.idle_workers() == ["w1"]
        assert coordinator.pending(offer) == ["w2"]
        clock.now += 10  # w2 silent for longer than ALIVE_S: no longer pending
        assert coordinator.pending(offer) == []
        assert coordinator.idle_workers() == []


def test_beats_uploads_and_done_are_kept_per_worker(tmp_path: Path) -> None:
    with Coordinator("127.0.0.1", free_port()) as coordinator:
        client = MasterClient("127.0.0.1", coordinator.port)
        offer = coordinator.open_offer({}, 1, tmp_path, wanted=2)
        client.poll("w1")
        client.post("beat", offer.id, "w1", {"cpu": [[1.0, 50.0, 95.0, 2.0]]})
        log = tmp_path / "src" / "requests-77.csv"
        log.parent.mkdir()
        log.write_bytes(b"t,endpoint\n" + b"1.0,read\n" * 100_000)
        client.upload(offer.id, "w1", log)
        client.post("done", offer.id, "w1", {"locust_rc": 0, "files": 1})
        outcome = offer.taken["w1"]
        assert outcome.cpu == [(1.0, 50.0, 95.0, 2.0)] and outcome.done and outcome.locust_rc == 0
        assert (tmp_path / "requests-w1-77.csv").read_bytes() == log.read_bytes()
        assert coordinator.pending(offer) == []
        coordinator.forget(offer)
        client.post("beat", offer.id, "w1", {"cpu": []})  # refused (410), not kept
        assert len(outcome.cpu) == 1
        coordinator.finished = True
        assert client.poll("w1") == {"state": "done"}


def test_uploads_with_a_bad_name_or_unknown_variant_are_refused(tmp_path: Path) -> None:
    with Coordinator("127.0.0.1", free_port()) as coordinator:
        offer = coordinator.open_offer({}, 1, tmp_path, wanted=1)
        MasterClient("127.0.0.1", coordinator.port).poll("w1")
        conn = http.client.HTTPConnection("127.0.0.1", coordinator.port, timeout=10)
        conn.request("POST", f"/v1/beat/{offer.id}/w1", body=b'{"cpu": [[1, "x", 2, 0]]}')
        resp = conn.getresponse()
        assert resp.status == 400 and offer.taken["w1"].cpu == []
        resp.read()
        for path in (f"/v1/upload/{offer.id}/w1/..%2Fescape.csv",
                     f"/v1/upload/{offer.id + 1}/w1/requests-1.csv",
                     f"/v1/upload/{offer.id}/nobody/requests-1.csv"):
            conn.request("PUT", path, body=b"x", headers={"Content-Length": "1"})
            resp = conn.getresponse()
            assert resp.status == 410, path
            resp.read()
        conn.close()
        assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_port_in_use_is_bad_input() -> None:
    with Coordinator("127.0.0.1", free_port()) as first, \
            pytest.raises(InputError, match="cannot listen"), \
            Coordinator("127.0.0.1", first.port):
        pass


def test_saturation_per_worker_host() -> None:
    busy = [(float(t), 80.0, 97.0, 0.0) for t in range(3)]
    calm = [(float(t), 20.0, 30.0, 1.0) for t in range(27)]
    assert locust_saturated(busy + calm) is False  # 10% of the samples: not more
    assert locust_saturated(busy + calm[:20]) is True
    assert locust_saturated([]) is None


def _outcome(done: bool, cpu: list[tuple[float, float, float, float]]) -> WorkerOutcome:
    return WorkerOutcome(name="w1", host="load-1", address="10.0.0.7", cores=4, cpu=cpu,
                         logs=["requests-w1-1.csv"], last_heard=50.0, done=done,
                         locust_rc=0 if done else None)


def test_worker_record_counts_logs_and_keeps_cpu_of_the_load_window(tmp_path: Path) -> None:
    (tmp_path / "requests-w1-1.csv").write_text("t,endpoint\n1,read\n2,read\n")
    cpu = [(5.0, 90.0, 99.0, 0.0), (11.0, 40.0, 50.0, 0.0), (12.0, 60.0, 70.0, 0.0),
           (30.0, 1.0, 1.0, 0.0)]
    locust = [{"worker": "w1", "requests": 2, "failures": 1, "missing_at": None}]
    record = worker_record(_outcome(True, cpu), locust, tmp_path, window=(10.0, 20.0))
    assert (record.locust_requests, record.locust_failures, record.logged_requests) == (2, 1, 2)
    assert record.cpu == ((11.0, 40.0, 50.0, 0.0), (12.0, 60.0, 70.0, 0.0))
    assert (record.cpu_host_mean, record.cpu_locust_mean, record.saturated) == (50.0, 60.0, False)
    assert lost_problem(record, load_end=20.0) is None


def test_a_worker_lost_during_the_load_is_a_problem(tmp_path: Path) -> None:
    locust = [{"worker": "w1", "requests": 40, "failures": 0, "missing_at": 15.0}]
    record = worker_record(_outcome(False, []), locust, tmp_path)
    problem = lost_problem(record, load_end=20.0)
    assert problem is not None
    assert "worker w1 (10.0.0.7) lost at 15.000 after 40 requests" in problem
    # gone after the load but before shipping its log: its requests are missing too
    late = worker_record(_outcome(False, []), [{"worker": "w1", "requests": 9}], tmp_path)
    assert lost_problem(late, load_end=20.0) is not None
    # Locust lost sight of it only after the load ended, and it shipped everything: fine
    after = worker_record(_outcome(True, []), [{"worker": "w1", "missing_at": 25.0}], tmp_path)
    assert lost_problem(after, load_end=20.0) is None


def test_bind_is_an_address_of_this_machine_and_a_port() -> None:
    assert parse_bind("127.0.0.1:5557") == ("127.0.0.1", 5557)
    assert parse_bind("0.0.0.0:5557") == ("0.0.0.0", 5557)
    assert parse_bind("[::]:5557") == ("::", 5557)
    for bad in ("5557", "localhost:5557", "127.0.0.1:", "127.0.0.1:65535", "127.0.0.1:x",
                "192.0.2.1:5557"):  # 192.0.2.1: TEST-NET, not on this machine
        with pytest.raises(InputError, match="--bind"):
            parse_bind(bad)


def test_allow_address_accepts_only_this_machines_addresses() -> None:
    check_local_address("127.0.0.1", "--allow-address")
    with pytest.raises(InputError, match="not an IP address of this machine"):
        check_local_address("192.0.2.1", "--allow-address")
    with pytest.raises(InputError, match="not an IP address"):
        check_local_address("example.org", "--allow-address")


def test_records_are_json(tmp_path: Path) -> None:
    record = worker_record(_outcome(True, [(1.0, 2.0, 3.0, 4.0)]), [], tmp_path)
    assert json.loads(json.dumps(record.__dict__))["cpu"] == [[1.0, 2.0, 3.0, 4.0]]


def _cpu_rows(worker: str, locust: list[float], wait: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"t": [float(i) for i in range(len(locust))], "worker": worker,
                         "host": "h", "address": "10.0.0.1", "host_cpu_percent": 50.0,
                         "locust_cpu_percent": locust, "locust_wait_percent": wait})


def test_worker_metrics_per_worker_host() -> None:
    busy = _cpu_rows("a", [97.0] * 3 + [20.0] * 7)  # 30% of its samples over 90%
    calm = _cpu_rows("b", [40.0] * 10)
    rows = pd.concat([busy, calm], ignore_index=True)
    assert saturated_workers(rows) == ["a"]
    assert worker_metrics(rows) == {"load.workers": 2, "load.workers.saturated": 1,
                                    "load.workers.cpu.locust.max": 43.1,
                                    "load.workers.cpu.host.max": 50.0}
    assert worker_metrics(empty_frame("workers")) == dict.fromkeys(WORKER_METRICS)


@pytest.mark.parametrize("wait", [0.0, 45.0])
def test_the_saturation_rule_is_the_local_one(wait: float) -> None:
    """One rule (harness.results.saturation) decides for a local Locust and for workers: CPU
    used plus run-queue wait. With 45% of wait, a Locust using 50% of a core (held back by
    other processes on its core) is busy on both paths."""
    for busy_samples in (1, 2):  # 10% of the samples busy: not saturated; 20%: saturated
        cpu = [97.0 - wait] * busy_samples + [20.0] * (10 - busy_samples)
        host = pd.DataFrame({"t": [float(i) for i in range(10)], "role": "locust",
                             "cpu_percent": cpu, "rss_mb": 50.0, "processes": 1,
                             "wait_percent": wait})
        local = analysis_metrics._saturated(host)
        assert local is (busy_samples == 2)
        samples = [(float(i), 50.0, c, wait) for i, c in enumerate(cpu)]
        assert locust_saturated(samples) is local
        assert (saturated_workers(_cpu_rows("a", cpu, wait)) == ["a"]) is local


def test_a_workers_frame_from_before_the_wait_was_recorded_still_reads() -> None:
    old = _cpu_rows("a", [97.0] * 10).drop(columns=["locust_wait_percent"])
    rows = coerce_frame("workers", old)
    assert rows["locust_wait_percent"].isna().all()
    assert saturated_workers(rows) == ["a"]


def test_the_workers_frame_has_one_row_per_cpu_sample(tmp_path: Path) -> None:
    records = [json.loads(json.dumps(worker_record(_outcome(True, cpu), [], tmp_path).__dict__))
               for cpu in ([(2.0, 10.0, 20.0, 0.0), (1.0, 11.0, 21.0, 0.0)], [])]
    frame = workers_frame(records)
    assert list(frame["t"]) == [1.0, 2.0] and set(frame["address"]) == {"10.0.0.7"}
    assert list(frame.columns) == list(FRAME_SCHEMAS["workers"])
    assert workers_frame([]).empty


def _run_args(*flags: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", "quickstart", *flags])


def test_distributed_flags_are_checked_before_anything_starts() -> None:
    assert distributed_load(_run_args()) is None
    runner = distributed_load(_run_args("--workers", "2", "--bind", "127.0.0.1:5557"))
    assert runner is not None and (runner.workers, runner.bind_host, runner.bind_port) == \
        (2, "127.0.0.1", 5557)
    for flags, message in ((["--bind", "127.0.0.1:5557"], "--bind: only with --workers"),
                           (["--workers", "0"], "--workers: expected an integer >= 1"),
                           (["--workers", "1", "--workers-timeout", "0"],
                            "--workers-timeout: expected seconds > 0"),
                           (["--workers", "2", "--bind", "10.1.2.3"], "--bind '10.1.2.3'")):
        with pytest.raises(InputError, match=message):
            distributed_load(_run_args(*flags))


@pytest.mark.parametrize(("flags", "message"), [
    (["--master", "10.0.0.5"], "expected HOST:PORT"),
    (["--master", "10.0.0.5:0"], "expected HOST:PORT"),
    (["--master", "h:5557", "--wait", "0"], "--wait: expected seconds > 0"),
    (["--master", "h:5557", "--name", "a b"], "--name 'a b'"),
])
def test_worker_flags_are_bad_input(flags: list[str], message: str) -> None:
    args = build_parser().parse_args(["worker", *flags])
    with pytest.raises(InputError, match=message):
        cmd_worker(args, Console(file=io.StringIO()))


def test_a_worker_without_a_master_gives_up_after_wait() -> None:
    args = build_parser().parse_args(["worker", "--master", f"127.0.0.1:{free_port()}",
                                      "--wait", "0.5", "--name", "lonely"])
    with pytest.raises(LoadError, match="worker lonely: no master at 127.0.0.1:.* for 0.5s"):
        cmd_worker(args, Console(file=io.StringIO()))


def test_saturated_worker_hosts_are_a_finding() -> None:
    start = 1_700_000_000.0
    context = VariantContext(load_start=start, load_end=start + 10.0, max_connections=20,
                             pooler="none", target="external", stages=(),
                             background_delay_ms=0.0)
    rows = pd.concat([_cpu_rows("a", [97.0] * 10), _cpu_rows("b", [30.0] * 10)])
    rows["t"] += start
    data = {name: empty_frame(name) for name in FRAME_NAMES}
    data["workers"] = coerce_frame("workers", rows)
    m = compute_metrics(data, context)
    assert (m["load.workers"], m["load.workers.saturated"]) == (2, 1)
    run = VariantRun(record=bare_record("dist", target="external"), directory=Path("."),
                     frames=data, problems=(), ctx=context)
    text = findings({"dist": variant_summary(m)}, [run])
    assert "dist: the Locust of 1 of 2 worker hosts was CPU-saturated" in " ".join(text)


def test_workers_on_other_machines_need_external_targets() -> None:
    variants = load_scenario(SCENARIOS_DIR / "quickstart.toml").variants
    DistributedRunner(2, "127.0.0.1", 5557).check_targets(variants)  # local workers reach it
    with pytest.raises(InputError, match="variant 'persistent' has a persistent target"):
        DistributedRunner(2, "0.0.0.0", 5557).check_targets(variants)
    DistributedRunner(2, "0.0.0.0", 5557).check_targets(())
