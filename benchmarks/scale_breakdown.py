"""Where the time of a scale-out goes: per process role, and per step of one instance.

Used by platform_scale.py.

``role_times``: CPU time and run-queue wait per role, from ``/proc/PID/task/*/schedstat``
(nanoseconds, exact for the processes and threads alive at the window's end).
``/proc/PID/stat`` counts in ticks of 10 ms and truncates each process's figure: for a
thousand instances of ~10 ms each it lost about half of their CPU. Roles are found from
this benchmark's own children: the gateway (``harness.platform.gateway``), its template
(``harness.apphost.template``), the instances (the template's children), PostgreSQL (the
postmaster and its backends) and this process (the load client).

``instance_steps``: one instance's steps, each measured apart in a process forked the way the
template forks (same preloaded modules, ``gc.freeze``): CPU time and minor page faults
(mostly pages copied on write: under a burst, a profile, ``perf record -a -g``, put half of an
instance's CPU in the kernel copying pages its parent shares).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

ROLES = ("client", "gateway", "template", "instances", "postgres")


def _sched(pid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds waiting for one) of every thread of ``pid``."""
    run = wait = 0
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    fields = f.read().split()
                run += int(fields[0])
                wait += int(fields[1])
    return run / 1e9, wait / 1e9


def _has(proc: psutil.Process, word: str) -> bool:
    with contextlib.suppress(psutil.Error):
        return any(word in part for part in proc.cmdline())
    return False


def members() -> dict[str, list[int]]:
    me = psutil.Process()
    out: dict[str, list[int]] = {r: [] for r in ROLES}
    out["client"].append(me.pid)
    for child in me.children():
        if _has(child, "harness.platform.gateway"):
            out["gateway"].append(child.pid)
            for sub in child.children():
                if _has(sub, "harness.apphost.template"):
                    out["template"].append(sub.pid)
                    out["instances"] += [i.pid for i in sub.children()]
        elif _has(child, "postgres"):
            with contextlib.suppress(psutil.Error):
                out["postgres"] += [child.pid, *(c.pid for c in child.children(recursive=True))]
    return out


Times = dict[str, dict[int, tuple[float, float]]]  # role -> pid -> (CPU s, wait s)


def role_times() -> Times:
    """(CPU seconds, run-queue wait seconds) so far of each role's live processes, by pid."""
    return {role: {pid: _sched(pid) for pid in pids} for role, pids in members().items()}


@dataclass(frozen=True)
class Breakdown:
    cpu_ms: dict[str, float]  # per new instance, per role
    wait_ms: dict[str, float]  # run-queue wait per new instance, per role
    total_ms: float

    def lines(self) -> list[str]:
        width = max(len(r) for r in self.cpu_ms)
        rows = [f"  {role:<{width}}  {ms:7.2f} ms CPU   {self.wait_ms[role]:8.1f} ms waiting "
                f"for a core" for role, ms in sorted(self.cpu_ms.items(), key=lambda kv: -kv[1])]
        cores = os.cpu_count() or 1
        rows.append(f"  {'total':<{width}}  {self.total_ms:7.2f} ms CPU -> about "
                    f"{cores * 1000.0 / max(self.total_ms, 1e-9):.0f} new instances/s on "
                    f"{cores} cores")
        return rows


def breakdown(before: Times, after: Times, n: int) -> Breakdown:
    """Per new instance: each process's time since ``before`` (from zero for one started
    since, which is right: its whole life is in the window). A process or thread that ended
    in between is not counted (instances and backends live on, frozen, to the end)."""
    cpu: dict[str, float] = {}
    wait: dict[str, float] = {}
    for role in ROLES:
        old = before.get(role, {})
        run_s = wait_s = 0.0
        for pid, (run, waited) in after.get(role, {}).items():
            was_run, was_waited = old.get(pid, (0.0, 0.0))
            run_s += max(0.0, run - was_run)
            wait_s += max(0.0, waited - was_waited)
        cpu[role] = round(run_s * 1000.0 / max(n, 1), 2)
        wait[role] = round(wait_s * 1000.0 / max(n, 1), 1)
    return Breakdown(cpu, wait, round(sum(cpu.values()), 2))


# ---- one instance, step by step ---------------------------------------------------------------

STEPS = (
    ("fork (in the template: copy its page tables)", "fork"),
    ("runtime start (event loop, socket to the gateway; primed)", "runtime"),
    ("first request (handler init, own connection, /read)", "request"),
    ("  of which the connect (TCP, startup, auth)", "connect"),
    ("TLS request refused first (asyncpg's 'prefer'; off here)", "tls"),
    ("handler module import (once, in the template)", "import"),
)


def _minflt() -> int:
    with open("/proc/self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def _in_child(step: Callable[[], None]) -> tuple[float, int]:
    """Run ``step`` in a forked child: its (CPU ms, minor faults)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(read)
            cpu, faults = time.process_time(), _minflt()
            step()
            doc = [(time.process_time() - cpu) * 1000.0, _minflt() - faults]
            os.write(write, json.dumps(doc).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as f:
        text = f.read()
    os.waitpid(pid, 0)
    if not text:
        raise RuntimeError("a step of the instance breakdown failed in its child")
    cpu_ms, faults = json.loads(text)
    return float(cpu_ms), int(faults)


def instance_steps(dsn: str, handler: str, preload: tuple[str, ...], runtime: str,
                   repeats: int = 15) -> dict[str, tuple[float, float]]:
    """Median (CPU ms, minor faults) of each step of ``STEPS``, from ``repeats`` forks of this
    process after it imported and primed what the template does."""
    import asyncpg
    import uvloop

    from harness.results.endpoints import EndpointRequest

    module_name, _, attr = handler.partition(":")
    for name in (*preload, module_name):
        importlib.import_module(name)
    prime = getattr(sys.modules[runtime], "prime", None)
    if callable(prime):
        prime()
    gc.collect()
    gc.freeze()
    os.environ.update({"PGSTAMPEDE_DSN": dsn, "PGSTAMPEDE_SSL": "disable"})

    def run(coro_fn: Callable[[], Any] | None) -> None:
        async def main() -> None:
            ours, theirs = socket.socketpair()
            _, writer = await asyncio.open_unix_connection(sock=ours)
            if coro_fn is not None:
                await coro_fn()
            writer.close()
            theirs.close()

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main())

    async def connect(**kwargs: object) -> None:
        conn = await asyncpg.connect(dsn, **kwargs)
        conn.terminate()

    async def request() -> None:
        await getattr(sys.modules[module_name], attr)(EndpointRequest("GET", "/read"))

    def reimport() -> None:
        sys.modules.pop(module_name, None)
        importlib.import_module(module_name)

    measured: dict[str, Callable[[], None]] = {
        "nothing": lambda: None,
        "runtime": lambda: run(None),
        "connect": lambda: run(lambda: connect(ssl=False)),
        "prefer": lambda: run(lambda: connect()),
        "request": lambda: run(request),
        "import": reimport,
    }
    samples: dict[str, list[tuple[float, int]]] = {k: [] for k in measured}
    forks: list[float] = []
    for _ in range(repeats):
        for key, step in measured.items():
            began = time.process_time()
            samples[key].append(_in_child(step))
            if key == "nothing":
                forks.append((time.process_time() - began) * 1000.0)

    def med(key: str, i: int) -> float:
        return float(statistics.median(s[i] for s in samples[key]))

    def diff(a: str, b: str) -> tuple[float, float]:
        return max(0.0, med(a, 0) - med(b, 0)), max(0.0, med(a, 1) - med(b, 1))

    return {
        "fork": (float(statistics.median(forks)), 0.0),
        "runtime": diff("runtime", "nothing"),
        "request": diff("request", "runtime"),
        "connect": diff("connect", "runtime"),
        "tls": diff("prefer", "connect"),
        "import": diff("import", "nothing"),
    }


def step_lines(steps: dict[str, tuple[float, float]]) -> list[str]:
    width = max(len(label) for label, _ in STEPS)
    return [f"  {label:<{width}}  {steps[key][0]:6.2f} ms CPU  {steps[key][1]:6.0f} page faults"
            for label, key in STEPS]
