"""Quickstart with and without core pinning: cold starts, p95 latency, the harness's CPU share.

Runs ``pgstampede run scenarios/quickstart.toml`` twice, as a user would (the CLI in a
subprocess): once as is, once with the harness and Locust on the load cores and everything
else it starts (PostgreSQL, PgBouncer, the targets, the gateway with its template and
instances) on the others (harness.runtime.pinning, applied from here by PID to the CLI's
process tree every 0.2 s; children inherit their parent's cores). Prints JSON: per run and
variant ``latency.p95_ms``, ``platform.cold_start_ms.p95``, ``harness.cpu_share`` and
``host.saturated_share``; the ratios pinned / unpinned of their medians.

    .venv/bin/python benchmarks/pin_quickstart.py [--quick]   # --quick: 2 of the 4 variants
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from harness.collect.host import family, proc_table
from harness.run.services import is_locust
from harness.runtime.pinning import CoreSplit, Pinner, available_cores, split_cores

REPO = Path(__file__).resolve().parents[1]
FIGURES = ("latency.p95_ms", "platform.cold_start_ms.p95", "harness.cpu_share",
           "host.saturated_share")


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def place_tree(pinner: Pinner, harness_pid: int) -> None:
    """The harness and its Locust processes on the load cores, the rest of its tree on the
    system-under-test cores."""
    table = proc_table()
    children = [p.pid for p in table.values() if p.ppid == harness_pid]
    locust = [pid for pid in children if is_locust(cmdline(pid)[:-1] or cmdline(pid))]
    others = [pid for pid in children if pid not in locust]
    pinner.place("harness", [harness_pid])
    pinner.place("locust", [p.pid for p in family(table, locust)])
    pinner.place("target", [p.pid for p in family(table, others)])


def run(out: Path, split: CoreSplit | None, variants: str) -> dict[str, Any]:
    argv = [sys.executable, "-m", "harness", "run", "scenarios/quickstart.toml", "--out",
            str(out), "--quiet"]
    if variants:
        argv += ["--variants", variants]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stop = threading.Event()
    pinner = Pinner(split) if split else None

    def pin_loop() -> None:
        while pinner is not None and not stop.wait(0.2):
            place_tree(pinner, proc.pid)

    thread = threading.Thread(target=pin_loop, daemon=True)
    thread.start()
    _, err = proc.communicate(timeout=1200)
    stop.set()
    thread.join(timeout=5)
    if proc.returncode not in (0, 1):  # 1: a threshold failed, the numbers are still there
        raise SystemExit(f"pgstampede run failed ({proc.returncode}): {err.decode()[-500:]}")
    summary = json.loads((out / "summary.json").read_text())
    return {name: {k: v["metrics"].get(k) for k in FIGURES}
            for name, v in summary["variants"].items()}


def median_of(runs: dict[str, Any], key: str) -> float | None:
    values = [m[key] for m in runs.values() if m.get(key) is not None]
    return statistics.median(values) if values else None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two variants instead of four")
    args = parser.parse_args()
    split = split_cores(available_cores())
    if split is None:
        raise SystemExit("pinning needs at least two cores")
    variants = "persistent,serverless" if args.quick else ""
    tmp = Path(tempfile.mkdtemp(prefix="pgstampede-bench-"))
    try:
        plain = run(tmp / "plain", None, variants)
        pinned = run(tmp / "pinned", split, variants)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = {
        "cores": split.describe(),
        "unpinned": plain,
        "pinned": pinned,
        "harness_cpu_share": median_of(plain, "harness.cpu_share"),
        "cold_start_p95_ms_ratio": ratio(median_of(pinned, "platform.cold_start_ms.p95"),
                                         median_of(plain, "platform.cold_start_ms.p95")),
        "latency_p95_ms_ratio": ratio(median_of(pinned, "latency.p95_ms"),
                                      median_of(plain, "latency.p95_ms")),
        "machine_cpus": os.cpu_count(),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
