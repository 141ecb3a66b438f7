"""Quickstart with and without core pinning: cold starts, p95 latency, the harness's CPU share.

Runs ``pgstampede run scenarios/quickstart.toml`` twice, as a user would (the CLI in a
subprocess): once as is, once with ``[host] pin = true`` added (the harness and Locust on
the load cores, PostgreSQL, PgBouncer and the targets on the others). Prints JSON: per run and
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
from pathlib import Path
from typing import Any

from harness.runtime.pinning import available_cores, split_cores

REPO = Path(__file__).resolve().parents[1]
FIGURES = ("latency.p95_ms", "platform.cold_start_ms.p95", "harness.cpu_share",
           "host.saturated_share")


def run(out: Path, pin: bool, variants: str) -> dict[str, Any]:
    scenario = out.parent / f"quickstart-{'pinned' if pin else 'plain'}.toml"
    text = (REPO / "scenarios" / "quickstart.toml").read_text()
    scenario.write_text(text + ("\n[host]\npin = true\n" if pin else ""))
    argv = [sys.executable, "-m", "harness", "run", str(scenario), "--out", str(out), "--quiet"]
    if variants:
        argv += ["--variants", variants]
    proc = subprocess.run(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=1200, check=False)
    err = proc.stderr
    # 1: a threshold failed; 3: incomplete (e.g. a collector starved on the load cores):
    # the numbers measured are still there, and each variant says its status
    if proc.returncode not in (0, 1, 3):
        raise SystemExit(f"pgstampede run failed ({proc.returncode}): {err.decode()[-500:]}")
    summary = json.loads((out / "summary.json").read_text())
    return {name: {"status": v["status"], **{k: v["metrics"].get(k) for k in FIGURES}}
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
        plain = run(tmp / "plain", False, variants)
        pinned = run(tmp / "pinned", True, variants)
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
