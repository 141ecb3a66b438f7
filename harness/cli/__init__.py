"""The ``pgstampede`` command: one function per subcommand (``run``: the scenario run;
``commands``: the others; ``main``: the flags and the one place with sys.exit)."""

from harness.cli.commands import cmd_worker
from harness.cli.main import build_parser, main
from harness.cli.run import SCENARIOS_DIR, distributed_load, resolve_scenario

__all__ = ["SCENARIOS_DIR", "build_parser", "cmd_worker", "distributed_load", "main",
           "resolve_scenario"]
