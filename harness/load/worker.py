"""``pgstampede worker --master HOST:PORT``: a load machine of a distributed run.

It polls the master's control channel (``harness.load.coordinator``) until the master offers
a variant, then runs one Locust worker (pgstampede's locustfile or plugin, so the request log
is attached) against the master's Locust port (``PORT + 1``), beats once a second with its
host's CPU figures, and when Locust exits ships its request logs (streamed) and says it is
done. Then it polls again: the next variant, or ``done`` at the end of the run (it exits 0,
or with ``keep_going`` waits for the next run). The master unreachable for ``wait_s`` is a
LoadError (exit 3).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psutil

from harness.errors import LoadError
from harness.load.config import LoadConfig
from harness.load.coordinator import WORKER_ENV
from harness.load.messages import Beat, CpuSample, DoneReport, PollReply, RunOver, VariantOffer
from harness.load.request_log import FILE_GLOB
from harness.load.runner import CONFIG_FILE, locust_env, locustfiles
from harness.results.codec import decode, encode
from harness.runtime.schedstat import run_queue_wait_s
from harness.runtime.stopping import StopPolicy, stop_group
from harness.runtime.tether import tethered

POLL_S = 0.5
BEAT_S = 1.0
GRACE_S = 120.0
HTTP_TIMEOUT_S = 30.0
LOCUST_STOP = StopPolicy(grace_s=10.0, kill_wait_s=10.0)


@dataclass(frozen=True)
class WorkerOptions:
    master_host: str
    master_port: int
    name: str
    wait_s: float | None = None  # None: wait for a master for ever
    keep_going: bool = False  # after a run's "done", wait for the next run


def default_name() -> str:
    """``<hostname>-<pid>``, reduced to the characters a worker name may hold."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"{socket.gethostname()}-{os.getpid()}")[:64]


class MasterClient:
    """The worker's side of the control channel: plain HTTP/JSON."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def _call(self, method: str, path: str, body: Any = None,
              headers: dict[str, str] | None = None) -> dict[str, Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT_S)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = json.loads(resp.read() or b"{}")
        finally:
            conn.close()
        return data if isinstance(data, dict) else {}

    def poll(self, name: str) -> dict[str, Any]:
        query = urlencode({"worker": name, "host": socket.gethostname(),
                           "cores": psutil.cpu_count() or 0})
        return self._call("GET", f"/v1/poll?{query}")

    def post(self, what: str, offer: int, name: str, body: dict[str, Any]) -> None:
        self._call("POST", f"/v1/{what}/{offer}/{name}", json.dumps(body).encode(),
                   {"Content-Type": "application/json"})

    def upload(self, offer: int, name: str, path: Path) -> None:
        with path.open("rb") as f:  # http.client streams a file object in blocks
            self._call("PUT", f"/v1/upload/{offer}/{name}/{path.name}", f,
                       {"Content-Length": str(path.stat().st_size)})


class CpuSampler:
    """This host's CPU (% of all cores), and a Locust process tree's CPU and run-queue wait
    (% of one core): the figures of the saturation rule, as a local Locust's."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._last: tuple[float, float, float] | None = None
        psutil.cpu_percent(None)

    def _used_s(self) -> tuple[float, float]:
        """CPU seconds used and seconds waited for a CPU, over the Locust process tree."""
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0, 0.0
        cpu = wait = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            cpu += t.user + t.system
            wait += run_queue_wait_s(p.pid) or 0.0
        return cpu, wait

    def sample(self) -> CpuSample | None:
        now, (cpu_s, wait_s) = time.monotonic(), self._used_s()
        last, self._last = self._last, (now, cpu_s, wait_s)
        host = psutil.cpu_percent(None)
        if last is None or now <= last[0]:
            return None
        elapsed = now - last[0]
        locust = max(cpu_s - last[1], 0.0) / elapsed * 100.0
        wait = max(wait_s - last[2], 0.0) / elapsed * 100.0
        return (time.time(), float(host), round(locust, 2), round(wait, 2))


def _start_locust(plan: LoadConfig, workdir: Path, options: WorkerOptions,
                  locust_port: int) -> subprocess.Popen[bytes]:
    config_path = workdir / CONFIG_FILE
    config_path.write_text(plan.to_json())
    argv = [sys.executable, "-m", "locust", "-f", locustfiles(plan), "--worker",
            "--master-host", options.master_host, "--master-port", str(locust_port),
            "--loglevel", "INFO"]
    env = {**locust_env(os.environ, config_path), WORKER_ENV: options.name}
    with (workdir / "locust.log").open("ab") as log:
        return subprocess.Popen(tethered(argv), cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _beat(client: MasterClient, name: str, offer_id: int, sample: CpuSample | None) -> None:
    """One beat; a master that does not answer now is asked again at the next one."""
    try:
        client.post("beat", offer_id, name, encode(Beat(cpu=(sample,) if sample else ())))
    except (OSError, ValueError, http.client.HTTPException):
        return


def _tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` of a log, for a Locust that failed (its folder is removed)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path.name})"


def run_variant(client: MasterClient, options: WorkerOptions, reply: dict[str, Any],
                say: Callable[[str], None]) -> None:
    """One variant (``reply``: the master's :class:`VariantOffer`): Locust worker, beats
    with CPU samples, then logs and done."""
    source = f"the master at {options.master_host}:{options.master_port}"
    offer = decode(VariantOffer, reply, source, defaults=True)
    offer_id = offer.id
    workdir = Path(tempfile.mkdtemp(prefix="pgstampede-worker-"))
    try:
        plan = decode(LoadConfig, {**offer.plan, "out_dir": str(workdir)},
                      f"{source}: plan", defaults=True)
        proc = _start_locust(plan, workdir, options, offer.locust_port)
        say(f"variant {offer_id}: Locust worker {proc.pid} for {plan.duration_s:g}s")
        sampler = CpuSampler(proc.pid)
        deadline = time.monotonic() + plan.duration_s + GRACE_S
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(BEAT_S)
                _beat(client, options.name, offer_id, sampler.sample())
        finally:
            if proc.poll() is None:
                stop_group(proc.pid, LOCUST_STOP, reap=proc.poll)
        logs = sorted(workdir.glob(FILE_GLOB))
        for path in logs:
            client.upload(offer_id, options.name, path)
        client.post("done", offer_id, options.name,
                    encode(DoneReport(locust_rc=proc.returncode, files=len(logs))))
        say(f"variant {offer_id}: done (Locust exit {proc.returncode}, {len(logs)} log(s))")
        if proc.returncode:
            say(_tail(workdir / "locust.log"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (a pod stopped): stop Locust, remove the folder


def run_worker(options: WorkerOptions, say: Callable[[str], None]) -> int:
    """Serve variants until the master says the run is done; 0 then. SIGTERM stops it as
    Ctrl-C does (KeyboardInterrupt: its Locust stopped, its folder removed)."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _serve(options, say)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _serve(options: WorkerOptions, say: Callable[[str], None]) -> int:
    client = MasterClient(options.master_host, options.master_port)
    heard = time.monotonic()
    say(f"worker {options.name}: waiting for the master at "
        f"{options.master_host}:{options.master_port}")
    while True:
        try:
            reply = client.poll(options.name)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if options.wait_s is not None and time.monotonic() - heard > options.wait_s:
                raise LoadError(f"worker {options.name}: no master at {options.master_host}:"
                                f"{options.master_port} for {options.wait_s:g}s ({exc})"
                                ) from None
            time.sleep(POLL_S)
            continue
        heard = time.monotonic()
        message: PollReply = decode(PollReply, reply, f"the master at {options.master_host}:"
                                    f"{options.master_port}", defaults=True)
        if isinstance(message, VariantOffer):
            run_variant(client, options, reply, say)
        elif isinstance(message, RunOver) and not options.keep_going:
            say(f"worker {options.name}: the run is over")
            return 0
        else:
            time.sleep(POLL_S)
