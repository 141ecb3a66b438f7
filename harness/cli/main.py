"""The ``pgstampede`` command line: its flags, and ``main``, the only place with sys.exit.

Exit codes: ``harness.errors.ExitCode`` (their meanings, ``EXIT_CODES``, close ``--help``).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from typing import NoReturn

from rich.console import Console

from harness.cli.commands import (
    cmd_baseline,
    cmd_check,
    cmd_clean,
    cmd_images,
    cmd_init,
    cmd_limit,
    cmd_list,
    cmd_report,
    cmd_worker,
)
from harness.cli.run import DEFAULT_BIND, cmd_run
from harness.errors import EXIT_CODES, ExitCode, HarnessError, InputError


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad flags in one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message} (see {self.prog} --help)")


def add_machine_id(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--machine-id", metavar="NAME",
                   help=f"name {what} (default: ${{PGSTAMPEDE_MACHINE_ID}}, else this boot of "
                   "this machine); a dedicated CI runner names itself to keep comparing "
                   "timings across reboots")


def _add_run(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser("run", help="run a scenario")
    p.add_argument("scenario", help="scenario file, or a shipped scenario's name")
    p.add_argument("--out", help="run folder (default reports/<scenario>-<UTC time>)")
    p.add_argument("--variants", help="comma-separated variant names to run")
    p.add_argument("--runtime", default="process", choices=["process", "docker"],
                   help="local processes, or containers (docs/docker.md)")
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


def _add_limit(sub: argparse._SubParsersAction[_Parser]) -> None:
    from harness.limit.cli import add_arguments

    p = sub.add_parser("limit", help="find where each variant breaks, the setting that holds")
    add_arguments(p)
    add_machine_id(p, "this machine in the run's manifest")
    p.set_defaults(func=cmd_limit)


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
    p.add_argument("run_dir", help="a run folder (reports/<scenario>-<UTC time>)")
    p.add_argument("--open", action="store_true", help="open the report in a browser")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("check", help="check thresholds and compare against a baseline")
    p.add_argument("run_dir", help="a run folder (reports/<scenario>-<UTC time>)")
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
    p.add_argument("run_dir", help="a run folder (reports/<scenario>-<UTC time>)")
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
