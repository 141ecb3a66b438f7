"""The command line of ``pgstampede limit``: its flags, the run around the search and its
exit code (``harness.cli`` wires them; its ``main`` alone exits)."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from harness.errors import ExitCode
from harness.limit.settings import LimitFlags
from harness.scenario import Scenario, load_scenario
from harness.scenario.limit import UNTIL

if TYPE_CHECKING:  # the run machinery is imported once the scenario has loaded
    from harness.limit.command import LimitOptions, LimitOutcome


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario file, or a shipped scenario's name")
    p.add_argument("--variants", help="comma-separated variant names to search")
    p.add_argument("--out", help="run folder (default reports/<scenario>-limit-<UTC time>)")
    p.add_argument("--max-users", type=int, metavar="N",
                   help="the most users to ramp to (default: [limit] max_users, else 100)")
    p.add_argument("--until", choices=UNTIL,
                   help="what breaks a step: a refusal, the error budget, the p95 target "
                   "(default: [limit] until, else refused)")
    p.add_argument("--error-budget", metavar="SHARE",
                   help="failed requests a step may have, e.g. 1%% (default 1%%)")
    p.add_argument("--p95", metavar="MS", help="the p95 target of --until p95, e.g. 250 or 250ms")
    p.add_argument("--verify", action="store_true",
                   help="run again at the recommended max instances and the load that broke "
                   "the variant; withdraw the advice if it does not hold")
    p.add_argument("--runtime", default="process", choices=["process", "docker"],
                   help="local processes, or containers (docs/docker.md)")
    p.add_argument("--keep", action="store_true", help="keep temp clusters after each probe")
    p.add_argument("--quiet", action="store_true", help="no live progress")


def options_of(args: argparse.Namespace, out: Path, machine: str | None) -> LimitOptions:
    from harness.limit.command import LimitOptions

    only = tuple(v.strip() for v in args.variants.split(",") if v.strip()) \
        if args.variants else None
    flags = LimitFlags(max_users=args.max_users, until=args.until,
                       error_budget=args.error_budget, p95=args.p95, verify=args.verify)
    return LimitOptions(out=out, only=only, flags=flags, keep=args.keep, machine_id=machine)


def run_limit(args: argparse.Namespace, scenario: Scenario, machine: str | None,
              console: Console) -> LimitOutcome:
    """Check every input (exit 2), then search with the runtime built once and the reaper
    watching (even kill -9 of this process leaves nothing running); print the outcome."""
    from harness.limit.command import check_inputs, limit
    from harness.report.limit_terminal import render_limit
    from harness.results.store import check_writable, utc_stamp
    from harness.run import default_seams
    from harness.run.preflight import preflight
    from harness.run.progress import Progress
    from harness.runtime.reaper import reaper
    from harness.services.registry import get_runtime

    out = Path(args.out) if args.out else \
        Path("reports") / f"{scenario.name}-limit-{utc_stamp()}"
    options = options_of(args, out, machine)
    check_inputs(scenario, options)
    preflight(scenario, options.only, args.runtime)
    check_writable(out)
    runtime = get_runtime(args.runtime)
    progress = Progress(console, quiet=args.quiet)
    progress.message(f"pgstampede limit: {scenario.name} — {scenario.description}"
                     .rstrip(" —"))
    progress.message(f"run folder: {out}")
    with contextlib.closing(runtime), reaper(out, docker=args.runtime == "docker"):
        outcome = limit(scenario, options, default_seams(runtime), progress)
    render_limit(outcome.summary, console)
    console.print(f"run folder: {outcome.run_dir}")
    return outcome


def command(args: argparse.Namespace, console: Console, scenario_path: Path,
            machine: str | None) -> int:
    """``pgstampede limit``: 3 when the search could not complete or a measurement is
    missing, 1 when a threshold failed (the verdict printed says which), else 0."""
    outcome = run_limit(args, load_scenario(scenario_path), machine, console)
    if outcome.exit_code:
        why = outcome.error or "; ".join(outcome.summary.problems)
        console.print(f"[red]limit {outcome.status}:[/] {why}", markup=True, highlight=False)
        return outcome.exit_code
    failed = any(t.status == "fail" for t in outcome.summary.thresholds)
    return ExitCode.FAILED if failed else ExitCode.OK
