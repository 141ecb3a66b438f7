"""``pgstampede run``: the scenario, the preflight, the run and its verdict."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from harness.errors import ExitCode, InputError
from harness.results import metric_names as M
from harness.results.saturation import BUSY_PERCENT, SAMPLE_SHARE

if TYPE_CHECKING:
    from harness.load.distributed import DistributedRunner
    from harness.results.summary import Summary
    from harness.run import RunOutcome
    from harness.scenario import Scenario

# The shipped scenarios are package data (harness/scenarios; `scenarios/` at the top of the
# checkout is a symlink to it), found the same way in a checkout and in an installed wheel.
SCENARIOS_DIR = Path(__file__).resolve().parents[1] / "scenarios"
MACHINE_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
DEFAULT_BIND = "127.0.0.1:5557"  # --bind: where `pgstampede worker`s reach the master
BUSY, SHARE = f"{BUSY_PERCENT:.0f}%", f"{SAMPLE_SHARE:.0%}"  # the saturation rule, as said


def resolve_scenario(arg: str) -> Path:
    """A scenario path, or the name of a shipped scenario (``quickstart``)."""
    path = Path(arg)
    if path.exists() or path.suffix == ".toml" or "/" in arg:
        return path
    shipped = SCENARIOS_DIR / f"{arg}.toml"
    if shipped.exists():
        return shipped
    raise InputError(f"{arg}: no such scenario file or shipped scenario (see pgstampede list)")


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from harness.scenario import load_scenario, with_cli_faults

    machine = machine_id(args)
    scenario = with_cli_faults(load_scenario(resolve_scenario(args.scenario)), args.fault)
    from harness.report.terminal import render_summary  # after the scenario: a bad one is
    from harness.results.store import check_writable, utc_stamp  # told without these imports
    from harness.run.preflight import preflight

    only = tuple(v.strip() for v in args.variants.split(",") if v.strip()) \
        if args.variants else None
    distributed = distributed_load(args)  # --workers: exit 2 for bad flags, before anything
    preflight(scenario, only, args.runtime, allow_remote=args.allow_remote,
              allow_addresses=tuple(args.allow_address), distributed=distributed)
    out = Path(args.out) if args.out else Path("reports") / f"{scenario.name}-{utc_stamp()}"
    check_writable(out)
    outcome = _run(args, scenario, only, out, distributed, console, machine)
    render_summary(outcome.summary, console)
    warn_saturation(outcome.summary, console)
    console.print(f"run folder: {outcome.run_dir}")
    if outcome.exit_code:
        why = outcome.error or "; ".join(outcome.summary.problems)
        console.print(f"[red]run {outcome.status}:[/] {why}", markup=True, highlight=False)
        return outcome.exit_code
    return verdict_exit(outcome.summary, console)


def _run(args: argparse.Namespace, scenario: Scenario, only: tuple[str, ...] | None, out: Path,
         distributed: DistributedRunner | None, console: Console,
         machine: str | None) -> RunOutcome:
    """The run itself, with the runtime built once (exit 2 when it cannot be used) and the
    reaper watching: even kill -9 of this process leaves nothing running."""
    from harness.run import RunOptions, default_seams, run
    from harness.run.progress import Progress
    from harness.runtime.reaper import reaper
    from harness.services.registry import get_runtime

    runtime = get_runtime(args.runtime)
    progress = Progress(console, quiet=args.quiet)
    progress.message(f"pgstampede: {scenario.name} — {scenario.description}".rstrip(" —"))
    progress.message(f"run folder: {out}")
    with contextlib.closing(runtime), reaper(out, docker=args.runtime == "docker"), \
            distributed or contextlib.nullcontext():
        seams = default_seams(runtime)
        if distributed is not None:
            seams = dataclasses.replace(seams, load=distributed)
        return run(scenario, RunOptions(out=out, only=only, keep=args.keep,
                                        repeats=args.repeats, machine_id=machine),
                   seams, progress)


def distributed_load(args: argparse.Namespace) -> DistributedRunner | None:
    """The load seam of ``--workers N [--bind ADDRESS:PORT]`` (None without ``--workers``)."""
    from harness.load.distributed import DistributedRunner
    from harness.runtime.loopback import parse_bind

    if args.workers is None:
        if args.bind is not None:
            raise InputError("--bind: only with --workers N")
        return None
    if args.workers < 1:
        raise InputError("--workers: expected an integer >= 1")
    if args.workers_timeout <= 0:
        raise InputError("--workers-timeout: expected seconds > 0")
    host, port = parse_bind(args.bind or DEFAULT_BIND)
    return DistributedRunner(args.workers, host, port, wait_s=args.workers_timeout)


def machine_id(args: argparse.Namespace) -> str | None:
    """``--machine-id NAME``, else ``$PGSTAMPEDE_MACHINE_ID``, else None (this boot)."""
    from harness.results.environment import MACHINE_ID_ENV

    name = args.machine_id if args.machine_id is not None else os.environ.get(MACHINE_ID_ENV)
    if name is None:
        return None
    if not MACHINE_ID_RE.match(name):
        source = "--machine-id" if args.machine_id is not None else MACHINE_ID_ENV
        raise InputError(f"{source} {name!r}: expected 1 to 64 letters, digits, '_', '.', ':' "
                         "or '-'")
    return name


def warn_saturation(summary: Summary, console: Console) -> None:
    """Say so when the load generator itself was the bottleneck."""
    for name, variant in summary.variants.items():
        if variant.metrics.get(M.LOAD_SATURATED):
            console.print(f"[yellow]warning:[/] {name}: Locust ran above {BUSY} of a core for "
                          f"more than {SHARE} of the run (running, or waiting for a CPU); its "
                          "latencies are inflated and its RPS capped. Use \\[load] processes = "
                          "-1, fewer users, or a bigger machine.")
        if variant.metrics.get(M.LOAD_WORKERS_SATURATED):
            console.print(f"[yellow]warning:[/] {name}: the Locust of "
                          f"{variant.metrics[M.LOAD_WORKERS_SATURATED]} worker host(s) ran above "
                          f"{BUSY} of a core for more than {SHARE} of the run (see "
                          "locust/workers.json); the latencies are inflated: start more workers")


def verdict_exit(summary: Summary, console: Console) -> int:
    """Exit 1 when a threshold failed (judged as ``check`` judges it), else 0."""
    failed = [t for t in summary.thresholds if t.status == "fail"]
    for t in failed:
        console.print(f"[red]threshold failed:[/] {t.expr} ({t.reason})", highlight=False)
    return ExitCode.FAILED if failed else ExitCode.OK
