"""Run Locust headless in its own process group and collect what it wrote.

``run_locust`` writes the load plan to ``<out_dir>/load_config.json``, starts
``python -m locust -f harness/load/locustfile.py`` (argv from ``build_locust_argv``; with
``[load] locustfile``: ``-f harness/load/locust_plugin.py,<the user's file>``) with
``cwd=out_dir`` and the plan's path in ``PGSTAMPEDE_LOAD_CONFIG_FILE``, follows
``progress.jsonl`` for the live display, and waits for the shape to end (plus a grace).
Locust's own files (``locust_stats.csv``, ``locust_failures.csv``...) and the per-process
request logs stay in ``out_dir``; ``read_request_logs`` merges the latter.
"""

from __future__ import annotations

import asyncio
import csv
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.errors import LoadError
from harness.load.config import CONFIG_ENV, CONFIG_FILE_ENV, LoadConfig
from harness.load.progress import PROGRESS_FILE, LocustProgress, ProgressReader, ShapeEvent
from harness.load.request_frame import read_request_logs
from harness.load.request_log import FILE_GLOB
from harness.load.shape import STOP_FILE
from harness.runtime.ports import free_port
from harness.runtime.stopping import StopPolicy, stop_group_async
from harness.runtime.tether import tethered
from harness.scenario.records import LoadSpec

__all__ = [
    "LOCUSTFILE",
    "LocustProgress",
    "LocustResult",
    "LocustTotals",
    "MasterSettings",
    "build_locust_argv",
    "locust_env",
    "read_locust_totals",
    "read_request_logs",
    "run_locust",
]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
LOCUST_PLUGIN = Path(__file__).with_name("locust_plugin.py")
CSV_PREFIX = "locust"
STATS_CSV = CSV_PREFIX + "_stats.csv"
CONFIG_FILE = "load_config.json"
LOCUST_STOP = StopPolicy(grace_s=10.0, kill_wait_s=10.0)  # SIGTERM, 10 s, SIGKILL
POLL_S = 0.25


@dataclass(frozen=True)
class LocustTotals:
    """Locust's own final totals (the ``Aggregated`` row of its stats CSV)."""

    requests: int
    failures: int


@dataclass(frozen=True)
class MasterSettings:
    """A Locust master for remote workers: it listens on ``bind_host:port`` and waits up to
    ``max_wait_s`` for ``workers`` Locust workers before the first stage."""

    workers: int
    bind_host: str
    port: int
    max_wait_s: float = 60.0


@dataclass(frozen=True)
class LocustResult:
    out_dir: Path
    log_path: Path
    returncode: int
    load_start: float  # wall time the shape started (NaN if it never did)
    load_end: float  # wall time the shape ended (NaN if it never did)
    totals: LocustTotals
    last_progress: LocustProgress | None
    problems: tuple[str, ...] = ()  # a local Locust either ran its plan or failed


def build_locust_argv(
    *,
    python: str,
    locustfile: Path | str,
    host: str,
    out_dir: Path,
    processes: int = 1,
    master_port: int | None = None,
    master: MasterSettings | None = None,
) -> list[str]:
    """The command line of a headless Locust run driven by the locustfile's shape."""
    argv = [
        python, "-m", "locust",
        "-f", str(locustfile),
        "--headless",
        "--host", host,
        "--csv", str(out_dir / CSV_PREFIX),
        "--exit-code-on-error", "0",
        "--stop-timeout", "0",
        "--only-summary",
        "--loglevel", "INFO",
    ]  # fmt: skip
    if master is not None:
        return argv + [
            "--master",
            "--expect-workers", str(master.workers),
            "--expect-workers-max-wait", f"{master.max_wait_s:g}",
            "--master-bind-host", master.bind_host,
            "--master-bind-port", str(master.port),
        ]  # fmt: skip
    if processes != 1:
        if master_port is None:
            raise LoadError("locust: --processes needs a master port on 127.0.0.1")
        argv += [
            "--processes", str(processes),
            "--master-bind-host", "127.0.0.1",
            "--master-bind-port", str(master_port),
            "--master-host", "127.0.0.1",
            "--master-port", str(master_port),
        ]  # fmt: skip
    return argv


def locustfiles(config: LoadConfig) -> str:
    """Locust's ``-f``: pgstampede's locustfile, or its plugin first and the user's file."""
    return f"{LOCUST_PLUGIN},{config.locustfile}" if config.locustfile else str(LOCUSTFILE)


def locust_env(base: Mapping[str, str], config_path: Path) -> dict[str, str]:
    """``base`` without any LOCUST_* setting, with the plan's path; unbuffered output."""
    env = {k: v for k, v in base.items() if not k.startswith("LOCUST_") and k != CONFIG_ENV}
    env[CONFIG_FILE_ENV] = str(config_path)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def read_locust_totals(out_dir: Path) -> LocustTotals:
    """Locust's own final totals: the ``Aggregated`` row of ``locust_stats.csv`` (0 if none)."""
    try:
        with (out_dir / STATS_CSV).open(newline="", encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f) if r.get("Name") == "Aggregated"]
    except OSError:
        rows = []
    if not rows:
        return LocustTotals(requests=0, failures=0)
    return LocustTotals(
        requests=int(rows[-1]["Request Count"]), failures=int(rows[-1]["Failure Count"])
    )


def _remove_previous_outputs(out_dir: Path) -> None:
    """Delete the request logs, progress and stop files an earlier run left in ``out_dir``."""
    for path in [*out_dir.glob(FILE_GLOB), out_dir / PROGRESS_FILE, out_dir / STATS_CSV,
                 out_dir / STOP_FILE]:
        path.unlink(missing_ok=True)


@dataclass
class _Follow:
    load_start: float = float("nan")
    load_end: float = float("nan")
    last: LocustProgress | None = None

    def apply(
        self,
        records: list[LocustProgress | ShapeEvent],
        on_progress: Callable[[LocustProgress], None] | None,
    ) -> None:
        for r in records:
            if isinstance(r, ShapeEvent):
                if r.event == "start":
                    self.load_start = r.t
                elif r.event == "end":
                    self.load_end = r.t
            else:
                self.last = r
                if on_progress is not None:
                    on_progress(r)


async def _follow(
    proc: asyncio.subprocess.Process,
    reader: ProgressReader,
    follow: _Follow,
    on_progress: Callable[[LocustProgress], None] | None,
    deadline: float,
) -> int:
    """Wait for ``proc`` to exit, feeding progress; TimeoutError after ``deadline``."""
    waiting = asyncio.ensure_future(proc.wait())
    try:
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=POLL_S)
            follow.apply(reader.read_new(), on_progress)
            if done:
                return waiting.result()
            if time.monotonic() > deadline:
                raise TimeoutError
    finally:
        waiting.cancel()


async def _spawn(
    argv: list[str], *, cwd: Path, log_path: Path, config_path: Path
) -> asyncio.subprocess.Process:
    """Start Locust in its own session (process group), output appended to ``log_path``."""
    with log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            *tethered(argv),  # SIGTERM from the kernel if the harness dies
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            cwd=cwd,
            env=locust_env(os.environ, config_path),
            start_new_session=True,
        )


def _prepare(load: LoadSpec, *, host: str, out_dir: Path, log_path: Path,
             request_log: bool, master: MasterSettings | None) -> tuple[LoadConfig, list[str]]:
    """The plan written to ``out_dir`` (what an earlier run left there removed) and Locust's
    command line."""
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_previous_outputs(out_dir)
    config = LoadConfig.from_spec(load, out_dir=out_dir, request_log=request_log)
    (out_dir / CONFIG_FILE).write_text(config.to_json())
    argv = build_locust_argv(
        python=sys.executable,
        locustfile=locustfiles(config),
        host=host,
        out_dir=out_dir,
        processes=load.processes,
        master_port=free_port() if load.processes != 1 and master is None else None,
        master=master,
    )
    return config, argv


async def run_locust(
    load: LoadSpec,
    *,
    host: str,
    out_dir: Path,
    log_path: Path,
    on_progress: Callable[[LocustProgress], None] | None = None,
    on_started: Callable[[int], None] | None = None,
    request_log: bool = True,
    grace_s: float = 60.0,
    master: MasterSettings | None = None,
) -> LocustResult:
    """Run the load shape of ``load`` against ``host``; LoadError when Locust fails.

    ``on_started`` receives the pid of Locust's main process (its process group leader;
    ``--processes`` workers are its children), e.g. for the host collector's ``locust``
    role. ``request_log=False`` switches the per-request log off (overhead benchmark).
    ``grace_s`` is how long Locust may run past the end of the shape before it is stopped.
    ``master``: run a Locust master for remote workers (``harness.load.distributed``)
    instead of a local Locust; it sends no requests itself.
    """
    config, argv = _prepare(load, host=host, out_dir=out_dir, log_path=log_path,
                            request_log=request_log, master=master)
    proc = await _spawn(argv, cwd=out_dir, log_path=log_path, config_path=out_dir / CONFIG_FILE)
    follow = _Follow()
    wait_s = master.max_wait_s if master is not None else 0.0
    deadline = time.monotonic() + config.duration_s + grace_s + wait_s
    try:
        if on_started is not None:
            on_started(proc.pid)
        rc = await _follow(
            proc, ProgressReader(out_dir / PROGRESS_FILE), follow, on_progress, deadline
        )
    except TimeoutError:
        await stop_group_async(proc.pid, proc.wait, LOCUST_STOP)
        raise LoadError(
            f"locust: still running {grace_s:.0f}s after the load shape should have ended; "
            f"see its log: {log_path}"
        ) from None
    except BaseException:
        await stop_group_async(proc.pid, proc.wait, LOCUST_STOP)
        raise
    if rc != 0:
        raise LoadError(f"locust: exited with code {rc}; see its log: {log_path}")
    return LocustResult(out_dir=out_dir, log_path=log_path, returncode=rc,
                        load_start=follow.load_start, load_end=follow.load_end,
                        totals=read_locust_totals(out_dir), last_progress=follow.last)
