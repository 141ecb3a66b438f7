"""How much the CI scenario's metrics move between identical runs on one machine.

    .venv/bin/python benchmarks/check_noise.py [--runs 5] [--scenario ci] [--keep DIR]

Runs the scenario ``--runs`` times, one after the other, with nothing changed, and prints for
every metric of every variant the median of each run (over its repeats) and the spread of
those medians: ``(max - min) / median``. A baseline comparison on the same machine must not
call a change within that spread a regression; ``harness/check/noise.py`` keeps the spreads
measured here as the defaults (``MEASURED_SPREAD``), and ``docs/check.md`` gives the figures.

The JSON printed first holds, per metric, the largest spread over the variants
(``spread.<metric>``) and, per variant, every run's median; the table after it is for people.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.results.metrics import METRICS  # noqa: E402


def run_once(scenario: str, out: Path) -> dict[str, Any]:
    """One ``pgstampede run``; its summary.json."""
    argv = [sys.executable, "-m", "harness", "run", scenario, "--out", str(out), "--quiet"]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-3:]
        raise SystemExit(f"run failed (exit {proc.returncode}): {' / '.join(tail)}")
    doc: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return doc


def medians(summaries: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """variant -> metric -> the median of each run (runs where it is a number)."""
    out: dict[str, dict[str, list[float]]] = {}
    for summary in summaries:
        for variant, entry in summary["variants"].items():
            for metric, value in entry["metrics"].items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    out.setdefault(variant, {}).setdefault(metric, []).append(float(value))
    return out


def spread(values: list[float]) -> float | None:
    """(max - min) / median of the run medians; None when the median is 0."""
    if len(values) < 2:
        return None
    middle = statistics.median(values)
    if middle == 0:
        return 0.0 if max(values) == min(values) else None
    return (max(values) - min(values)) / abs(middle)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenario", default="ci")
    parser.add_argument("--keep", help="keep the run folders here (default: a temp folder)")
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs: at least 2")
    with tempfile.TemporaryDirectory(prefix="pgstampede-noise-") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        summaries = []
        began = time.monotonic()
        for i in range(args.runs):
            print(f"run {i + 1}/{args.runs} ...", file=sys.stderr, flush=True)
            summaries.append(run_once(args.scenario, root / f"run-{i + 1}"))
    per_variant = medians(summaries)
    largest: dict[str, float] = {}
    for by_metric in per_variant.values():
        for metric, values in by_metric.items():
            s = spread(values)
            if s is not None:
                largest[metric] = max(largest.get(metric, 0.0), s)
    doc = {"scenario": args.scenario, "runs": args.runs,
           "seconds": round(time.monotonic() - began, 1),
           "spread": {m: round(s, 4) for m, s in sorted(largest.items())},
           "machine_spread_max": round(max((s for m, s in largest.items()
                                            if m in METRICS and METRICS[m].depends == "machine"),
                                           default=0.0), 4),
           "medians": per_variant}
    print(json.dumps(doc))
    print(f"\n{args.runs} runs of {args.scenario}: spread of the run medians, (max - min) / median")
    print(f"{'metric':40} {'depends':8} {'spread':>8}  run medians per variant")
    for metric, s in sorted(largest.items(), key=lambda kv: -kv[1]):
        depends = METRICS[metric].depends if metric in METRICS else "?"
        shown = "; ".join(f"{v}: " + ", ".join(f"{x:g}" for x in by[metric])
                          for v, by in per_variant.items() if metric in by)
        print(f"{metric:40} {depends:8} {s:8.1%}  {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
