"""The other subcommands: one function each (``pgstampede run`` is ``harness.cli.run``)."""

from __future__ import annotations

import argparse
import sys
import webbrowser
from pathlib import Path

from rich.console import Console

from harness.cli.run import SCENARIOS_DIR, machine_id, resolve_scenario
from harness.errors import ExitCode, InputError


def cmd_limit(args: argparse.Namespace, console: Console) -> int:
    from harness.limit.cli import command

    return command(args, console, resolve_scenario(args.scenario), machine_id(args))


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
    from harness.report.limit_terminal import render_limit
    from harness.report.terminal import render_summary
    from harness.results.limit import LIMIT_FILE
    from harness.run.finalise import finalise
    from harness.run.progress import Progress

    run_dir = Path(args.run_dir)
    summary = finalise(run_dir, Progress(console, quiet=True))
    if (run_dir / LIMIT_FILE).is_file():  # made by `pgstampede limit`: its own table
        render_limit(summary, console)
    else:
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
