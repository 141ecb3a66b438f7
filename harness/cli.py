"""The ``pgstampede`` command: one function per subcommand; the only place with sys.exit.

Exit codes: ``harness.errors.ExitCode`` (their meanings, ``EXIT_CODES``, close ``--help``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import sys
import textwrap
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from rich.console import Console

from harness.errors import EXIT_CODES, ExitCode, HarnessError, InputError
from harness.results import metric_names as M
from harness.results.saturation import BUSY_PERCENT, SAMPLE_SHARE

if TYPE_CHECKING:
    from harness.load.distributed import DistributedRunner
    from harness.results.summary import Summary
    from harness.run import RunOutcome
    from harness.scenario import Scenario

# The shipped scenarios are package data (harness/scenarios; `scenarios/` at the top of the
# checkout is a symlink to it), found the same way in a checkout and in an installed wheel.
SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"
MACHINE_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
DEFAULT_BIND = "127.0.0.1:5557"  # --bind: where `pgstampede worker`s reach the master


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad flags in one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message} (see {self.prog} --help)")


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


def cmd_limit(args: argparse.Namespace, console: Console) -> int:
    from harness.limit.cli import command

    return command(args, console, resolve_scenario(args.scenario), machine_id(args))


def _add_limit(sub: argparse._SubParsersAction[_Parser]) -> None:
    from harness.limit.cli import add_arguments

    p = sub.add_parser("limit", help="find where each variant breaks, the setting that holds")
    add_arguments(p)
    add_machine_id(p, "this machine in the run's manifest")
    p.set_defaults(func=cmd_limit)


def cmd_worker(args: argparse.Namespace, console: Console) -> int:
    from harness.load.coordinator import NAME_RE
    from harness.load.worker import WorkerOptions, default_name, run_worker

    host, _, port = args.master.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65534:
        raise InputError(f"--master {args.master!r}: expected HOST:PORT, e.g. 10.0.0.5:5557")
    if args.wait is not None and args.wait <= 0:
        raise InputError("--wait: expected seconds > 0")
    if args.name is not None and not NAME_RE.match(args.name):
        raise InputError(f"--name {args.name!r}: expected 1 to 64 letters, digits, '_', '.' "
                         "or '-'")
    options = WorkerOptions(master_host=host.strip("[]"), master_port=int(port),
                            name=args.name or default_name(), wait_s=args.wait,
                            keep_going=args.keep_going)
    return run_worker(options, lambda line: console.print(line, markup=False, highlight=False))


BUSY, SHARE = f"{BUSY_PERCENT:.0f}%", f"{SAMPLE_SHARE:.0%}"  # the saturation rule, as said


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


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    from harness.scenario import load_scenario

    for path in sorted(SCENARIOS_DIR.glob("*.toml")):
        scenario = load_scenario(path)
        console.print(f"[bold]{path.stem:<14}[/] {scenario.description}", highlight=False,
                      soft_wrap=True)  # one line per scenario, however long its description
    return ExitCode.OK


def cmd_init(args: argparse.Namespace, console: Console) -> int:
    from harness.scaffold import init_app

    init_app(args.dir, force=args.force, out=sys.stdout)
    return ExitCode.OK


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from harness.report.terminal import render_summary
    from harness.run.finalise import finalise
    from harness.run.progress import Progress

    run_dir = Path(args.run_dir)
    summary = finalise(run_dir, Progress(console, quiet=True))
    render_summary(summary, console)
    index = run_dir / "index.html"
    console.print(f"report: {index}")
    if args.open:
        webbrowser.open(index.resolve().as_uri())
    if summary.status != "complete":
        console.print(f"[red]incomplete:[/] the run is {summary.status}; the report says so",
                      highlight=False)
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    from harness.check.command import check_run
    from harness.check.report import json_report, print_report

    outcome = check_run(
        Path(args.run_dir), baseline=Path(args.baseline) if args.baseline else None,
        junit=Path(args.junit) if args.junit else None,
        markdown=Path(args.markdown) if args.markdown else None,
        machine_id=machine_id(args), compare_all=args.compare_all)
    if args.json:
        console.print_json(json_report(outcome))
    else:
        print_report(outcome, console, verbose=args.verbose)
    return int(outcome.exit_code)


def cmd_baseline(args: argparse.Namespace, console: Console) -> int:
    from harness.check.command import save_baseline

    path = save_baseline(Path(args.run_dir), args.save, machine_id=machine_id(args))
    console.print(f"baseline saved: {path}")
    return ExitCode.OK


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


def add_machine_id(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--machine-id", metavar="NAME",
                   help=f"name {what} (default: ${{PGSTAMPEDE_MACHINE_ID}}, else this boot of "
                   "this machine); a dedicated CI runner names itself to keep comparing "
                   "timings across reboots")


def cmd_clean(args: argparse.Namespace, console: Console) -> int:
    from harness.runtime.cleanup import clean

    folders = [Path(p) for p in args.run_dirs]
    for line in clean(folders or [Path("reports")]):
        console.print(line, markup=False, highlight=False)
    from harness.runtime.docker_engine import clean_containers

    for line in clean_containers(folders or None):
        console.print(line, markup=False, highlight=False)
    return ExitCode.OK


def cmd_images(args: argparse.Namespace, console: Console) -> int:
    from harness.runtime.images import build_images

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    for tag, image_id in build_images(offline=args.offline, progress=say).items():
        say(f"{tag}  {image_id}")
    return ExitCode.OK


def _add_run(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser("run", help="run a scenario")
    p.add_argument("scenario", help="scenario file, or a shipped scenario's name")
    p.add_argument("--out", help="run folder (default reports/<scenario>-<UTC time>)")
    p.add_argument("--variants", help="comma-separated variant names to run")
    p.add_argument("--runtime", default="process", choices=["process", "docker"])
    p.add_argument("--repeats", type=int, help="override the scenario's repeats")
    p.add_argument("--keep", action="store_true", help="keep temp clusters after the run")
    p.add_argument("--quiet", action="store_true", help="no live progress")
    p.add_argument("--fault", action="append", default=[], metavar="KIND@AT[+DUR][*N]",
                   help="inject a fault, e.g. restart_postgres@10s+2s, kill_instances@5s*10, "
                   "freeze_target@8s+3s, restart_pgbouncer@10s, terminate_backends@6s")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow an external target or watched database off this machine")
    p.add_argument("--allow-address", action="append", default=[], metavar="ADDRESS",
                   help="allow an external target or watched database on ADDRESS, an address "
                   "of this machine's own interfaces (checked)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="send the load from N `pgstampede worker` processes (other machines)")
    p.add_argument("--bind", metavar="ADDRESS:PORT",
                   help=f"where workers reach this master (default {DEFAULT_BIND}; "
                   "PORT + 1 is Locust's)")
    p.add_argument("--workers-timeout", type=float, default=120.0, metavar="SECONDS",
                   help="how long to wait for the workers before each variant (default 120)")
    add_machine_id(p, "this machine in the run's manifest")
    p.set_defaults(func=cmd_run)


def _add_worker(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser("worker", help="a load machine of a distributed run")
    p.add_argument("--master", required=True, metavar="HOST:PORT",
                   help="the --bind address of `pgstampede run --workers N`")
    p.add_argument("--name", help="this worker's name (default <hostname>-<pid>)")
    p.add_argument("--wait", type=float, metavar="SECONDS",
                   help="give up when the master does not answer for this long (default: never)")
    p.add_argument("--keep-going", action="store_true",
                   help="after a run, wait for the next one (e.g. in a Kubernetes Deployment)")
    p.set_defaults(func=cmd_worker)


def _add_run_folder_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``report``, ``check`` and ``baseline``: what reads a run folder."""
    p = sub.add_parser("report", help="rebuild summary.json and index.html of a run folder")
    p.add_argument("run_dir")
    p.add_argument("--open", action="store_true", help="open the report in a browser")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("check", help="check thresholds and compare against a baseline")
    p.add_argument("run_dir")
    p.add_argument("--baseline", help="baseline file, or folder holding <scenario>.json")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument("--junit", help="write JUnit XML to this file")
    p.add_argument("--markdown", help="write a Markdown summary to this file")
    p.add_argument("--verbose", action="store_true",
                   help="show every comparison (unchanged and not compared too)")
    p.add_argument("--compare-all", action="store_true",
                   help="compare every metric, even timings recorded on another machine or "
                   "with another version of the scenario")
    add_machine_id(p, "the machine the run was measured on")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("baseline", help="record a baseline from a run folder")
    p.add_argument("run_dir")
    p.add_argument("--save", required=True,
                   help="baseline file to write, or a folder (ending in /) for <scenario>.json")
    add_machine_id(p, "the machine the baseline was measured on")
    p.set_defaults(func=cmd_baseline)


def _add_scenario_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``list`` and ``init``: scenarios shipped, and a scenario for your app."""
    p = sub.add_parser("list", help="list the shipped scenarios")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("init", help="write DIR/scenario.toml for the app in DIR")
    p.add_argument("dir", nargs="?", default=".", help="the app's folder (default: here)")
    p.add_argument("--force", action="store_true", help="overwrite its scenario.toml")
    p.set_defaults(func=cmd_init)


def _add_machine_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``images build`` and ``clean``: this machine's images and leftovers."""
    p = sub.add_parser("images", help="build the Docker images of --runtime docker")
    images = p.add_subparsers(dest="images_command", required=True, parser_class=_Parser)
    b = images.add_parser("build", help="build every image from compose/")
    b.add_argument("--offline", action="store_true",
                   help="no registry: make the base image debian:bookworm-slim with debootstrap")
    b.set_defaults(func=cmd_images)
    p = sub.add_parser("clean", help="stop what a crashed run left running")
    p.add_argument("run_dirs", nargs="*", help="run folders (default: every folder in reports/)")
    p.set_defaults(func=cmd_clean)


def exit_codes_epilog() -> str:
    """The exit codes of ``harness.errors.EXIT_CODES``, for ``--help``."""
    lines = ["exit codes:"]
    for code, meaning in EXIT_CODES.items():
        lines += textwrap.wrap(meaning.replace("`", ""), width=88,
                               initial_indent=f"  {int(code)}  ", subsequent_indent="     ")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pgstampede", description="Will your app exhaust PostgreSQL? "
                     "Load-test persistent and serverless targets,\nwith and without a "
                     "connection pooler.",
                     epilog=exit_codes_epilog(),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (_add_run, _add_limit, _add_worker, _add_scenario_commands,
                _add_run_folder_commands, _add_machine_commands):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> NoReturn:
    console = Console() if sys.stdout.isatty() else Console(width=140)
    err = Console(stderr=True)
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "repeats", None) is not None and args.repeats < 1:
            raise InputError("--repeats: expected an integer >= 1")
        code = args.func(args, console)
    except HarnessError as exc:
        err.print(f"pgstampede: error: {exc}", highlight=False, markup=False, soft_wrap=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        err.print("pgstampede: interrupted")
        code = ExitCode.INCOMPLETE
    sys.exit(code)
