"""Run the harness's benchmarks and print one table of figures against their goals.

    .venv/bin/python benchmarks/bench.py [--quick] [--only NAME,...]

Each benchmark runs as its own process (as a newcomer would run it by hand) and prints JSON;
one figure or more is read from it by key path and compared with its goal. A benchmark that
fails or whose tool is missing (wrk: ``make bench`` installs it) is a row that says so; the
exit code is 1 when a goal was missed or a benchmark failed, 0 otherwise. The figures are
this machine's: on a shared or busy machine they are lower than on a quiet one, which the
host saturation check of a run reports too.

``--quick`` runs each benchmark smaller (fewer rows, instances, seconds). Each goal says how
a quick run is judged (``Figure.quick``): against the same goal when the figure does not
grow with the size (a rate, a percentile, a share, a size that does not depend on it);
against the goal the benchmark prints for the size it ran (``scaled``: report_build's build
time); or not at all (``cannot judge``, the default: a new goal is judged by a full run only
until it says otherwise). A quick run is a smoke test: ``make bench`` without it is the
measurement.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[1]
OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}
Quick = Literal["same", "scaled", "cannot judge"]
NOT_JUDGED = "not judged (--quick)"


@dataclass(frozen=True)
class Figure:
    label: str
    path: tuple[str, ...]  # key path into the benchmark's JSON
    op: str = ""  # "" = no goal, shown for information
    goal: float = 0.0  # the goal of a full run
    unit: str = ""
    quick: Quick = "cannot judge"  # how a --quick run is judged (module doc)
    scaled_goal: tuple[str, ...] = ()  # quick = "scaled": where the benchmark prints its goal

    def goal_for(self, doc: dict[str, Any] | None, quick: bool) -> float | None:
        """The goal this run is judged against; None when it cannot be judged."""
        if not self.op:
            return None
        if not quick or self.quick == "same":
            return self.goal
        if self.quick == "scaled" and doc is not None:
            return lookup(doc, self.scaled_goal)
        return None


@dataclass(frozen=True)
class Bench:
    name: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    figures: tuple[Figure, ...]
    needs: str = ""  # a program on PATH


BENCHES: tuple[Bench, ...] = (
    Bench("platform_scale", ("--instances", "1000"), ("--instances", "300", "--hold-ms", "10000"),
          (Figure("new instances per second, end to end", ("new_instances_per_s",), ">=", 100,
                  "/s", quick="same"),
           Figure("template alone", ("template_only_new_instances_per_s",), unit="/s"))),
    Bench("platform_cold_start", ("--n", "20"), ("--n", "5"),
          (Figure("fork cold start to first /read, p50", ("fork /read", "first_response_ms",
                                                          "p50"), "<=", 50, "ms",
                  quick="same"),
           Figure("exec cold start to first /read, p50", ("exec /read", "first_response_ms",
                                                          "p50"), unit="ms"))),
    Bench("platform_gateway_overhead", ("--duration", "5"), ("--duration", "2"),
          (Figure("gateway /read c=1 p50", ("gateway freeze=True", "/read c=1", "p50_ms"),
                  "<=", 5, "ms", quick="same"),
           Figure("direct /read c=1 p50", ("direct (uvicorn, one process)", "/read c=1",
                                           "p50_ms"), unit="ms")), needs="wrk"),
    Bench("target_throughput", ("--seconds", "10"), ("--seconds", "3"),
          (Figure("persistent /read RPS under wrk", ("wrk_c50", "rps"), unit="/s"),
           Figure("persistent /read RPS under Locust", ("locust_fasthttp", "rps"), unit="/s")),
          needs="wrk"),
    Bench("collector_overhead", ("--seconds", "10"), ("--seconds", "3"),
          (Figure("pg_activity collector at 10 Hz, CPU", ("pg_activity@10Hz",
                                                          "harness_cpu_percent"), "<=", 1.0,
                  "% core", quick="same"),)),
    Bench("locust_log_overhead", (), ("--seconds", "4", "--repeats", "2"),
          (Figure("per-request log cost (CPU, paired runs)", ("log_cost_percent_by_cpu_paired",),
                  "<=", 10, "%", quick="same"),)),
    Bench("report_build", (), ("--rows", "200000"),
          (Figure("report build time (1M rows; --quick 200k)", ("build_total_s",), "<=", 15, "s",
                  quick="scaled", scaled_goal=("goal_build_s",)),  # 15 s for 1M, 11 for 200k
           Figure("report index.html size", ("html_mb",), "<=", 5, "MB",
                  quick="same"))),  # the charts' points do not grow with the rows
    Bench("check_noise", ("--runs", "5"), ("--runs", "2"),
          (Figure("ci scenario: spread of latency.p50_ms between identical runs",
                  ("spread", "latency.p50_ms"), unit="x"),
           Figure("ci scenario: largest spread of a machine metric", ("machine_spread_max",),
                  unit="x"))),
    Bench("limit_time", (), (),
          (Figure("pgstampede limit, 3 variants with --verify (capacity)", ("seconds",), "<=",
                  600, "s"),)),
    Bench("node_cold_start", ("--n", "10", "--burst", "40"), ("--n", "3", "--burst", "10"),
          (Figure("plain node:http cold start p50 (emulator)",
                  ("plain node:http", "emulator", "cold_start_ms", "p50"), unit="ms"),
           Figure("plain node:http, emulator over bare (p50)", ("plain node:http", "ratio_p50"),
                  "<=", 1.2, "x"),
           Figure("Express cold start p50 (emulator)",
                  ("express-pg", "emulator", "cold_start_ms", "p50"), unit="ms"),
           Figure("Express, emulator over bare (p50)", ("express-pg", "ratio_p50"), "<=", 1.2,
                  "x"),
           Figure("next start cold start p50 (emulator)",
                  ("nextjs-postgres (next start)", "emulator", "cold_start_ms", "p50"), unit="ms"),
           Figure("next start, emulator over bare (p50)",
                  ("nextjs-postgres (next start)", "ratio_p50"), "<=", 1.2, "x"),
           Figure("Python fork cold start p50, for comparison",
                  ("python fork cold_start_ms", "p50"), unit="ms"),
           Figure("new Node instances per second, end to end",
                  ("scale_out plain node:http", "new_instances_per_s"), unit="/s"))),
    Bench("pin_quickstart", (), ("--quick",),
          (Figure("harness CPU share (quickstart, median)", ("harness_cpu_share",), "<=", 0.5,
                  quick="same"),
           Figure("cold start p95, pinned vs not", ("cold_start_p95_ms_ratio",), unit="x"),
           Figure("latency p95, pinned vs not", ("latency_p95_ms_ratio",), unit="x"))),
)


def first_json(text: str) -> dict[str, Any]:
    """The first JSON object printed (benchmarks may print more after it)."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON in the output")
    doc, _ = json.JSONDecoder().raw_decode(text[start:])
    if not isinstance(doc, dict):
        raise ValueError("the output is not a JSON object")
    return doc


def lookup(doc: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = doc
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) else None


def run(bench: Bench, quick: bool) -> tuple[dict[str, Any] | None, str, float]:
    """(its JSON or None, why not, seconds)."""
    if bench.needs and shutil.which(bench.needs) is None:
        return None, f"{bench.needs} not installed (make bench installs it)", 0.0
    script = REPO / "benchmarks" / f"{bench.name}.py"
    argv = [sys.executable, str(script), *(bench.quick_args if quick else bench.args)]
    began = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # report_build imports tests.synthetic
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env)
    took = time.monotonic() - began
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"failed (exit {proc.returncode}): {tail[:80]}", took
    try:
        return first_json(proc.stdout), "", took
    except ValueError as exc:
        return None, str(exc), took


def verdict(figure: Figure, value: float | None, goal: float | None, quick: bool) -> str:
    if value is None:
        return "missing"
    if not figure.op:
        return "-"
    if goal is None:  # a scaled goal the benchmark did not print is missing
        return NOT_JUDGED if quick and figure.quick == "cannot judge" else "missing"
    return "met" if OPS[figure.op](value, goal) else "MISSED"


def goal_text(figure: Figure, goal: float | None) -> str:
    if not figure.op:
        return "-"
    shown = figure.goal if goal is None else goal
    text = f"{figure.op} {shown:g} {figure.unit}".strip()
    return f"{text} (scaled)" if goal is not None and goal != figure.goal else text


def table(rows: list[tuple[str, str, str, str, str]]) -> str:
    head = ("benchmark", "figure", "value", "goal", "verdict")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    line = "  ".join("{:<" + str(w) + "}" for w in widths)
    out = [line.format(*head), line.format(*("-" * w for w in widths))]
    out += [line.format(*r) for r in rows]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke test)")
    parser.add_argument("--only", default="", help="benchmark names, comma-separated")
    args = parser.parse_args()
    only = {n for n in args.only.split(",") if n}
    rows: list[tuple[str, str, str, str, str]] = []
    failed = False
    for bench in BENCHES:
        if only and bench.name not in only:
            continue
        print(f"running {bench.name} ...", file=sys.stderr, flush=True)
        doc, why, took = run(bench, args.quick)
        print(f"  {bench.name}: {why or 'done'} ({took:.0f} s)", file=sys.stderr, flush=True)
        for figure in bench.figures:
            value = lookup(doc, figure.path) if doc is not None else None
            goal = figure.goal_for(doc, args.quick)
            mark = verdict(figure, value, goal, args.quick) if doc is not None else why
            failed |= mark in ("MISSED", "missing") or doc is None
            shown = "-" if value is None else f"{value:g} {figure.unit}".strip()
            rows.append((bench.name, figure.label, shown, goal_text(figure, goal), mark))
    print(table(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
