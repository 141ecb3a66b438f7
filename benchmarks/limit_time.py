"""Benchmark: how long ``pgstampede limit`` takes on a scenario with three variants.

Runs the real command on the shipped ``capacity`` scenario (a persistent server,
serverless instances, serverless instances behind PgBouncer; ``--verify``) and prints JSON:
the wall time, the probes per variant and what each variant's search found. Goal on a
2-core machine: under 10 minutes (600 s) in all. docs/limit.md quotes what it measured.

    .venv/bin/python benchmarks/limit_time.py [--scenario capacity] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 600.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="capacity")
    parser.add_argument("--keep", help="keep the run folder here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pgstampede-limit-bench-"))
    out = Path(args.keep) if args.keep else work / "run"
    began = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "harness", "limit", args.scenario, "--out",
                           str(out), "--quiet"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    seconds = time.monotonic() - began
    try:
        if proc.returncode not in (0, 1):
            print(proc.stdout[-2000:] + proc.stderr[-2000:], file=sys.stderr)
            return proc.returncode
        record = json.loads((out / "limit.json").read_text())
        summary = json.loads((out / "summary.json").read_text())
        variants = {
            v["name"]: {"probes": len(v["probes"]), "held_users": v["held_users"],
                        "broke_users": v["broke_users"],
                        "limit": {k: x for k, x in summary["variants"][v["name"]]
                                  ["metrics"].items() if k.startswith("limit.")}}
            for v in record["variants"]}
        load_s = sum(r["load_end"] - r["load_start"] for r in
                     json.loads((out / "manifest.json").read_text())["variants"])
        print(json.dumps({"scenario": args.scenario, "seconds": round(seconds, 1),
                          "load_seconds": round(load_s, 1), "goal_seconds": GOAL_S,
                          "variants": variants}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
