"""Node function files (``[app] node``) as the targets run them: pgstampede's Node host
(harness.apphost.node) with the machine's ``node``.

- persistent: one Node process serving every route, as a long-running server would
  (``command_argv``: the host with all the routes; no Vercel variables);
- serverless: each route is its own function, with its own instances and connections, as on
  Vercel (``function_commands``: route -> the host serving that route alone, with
  ``--function``, so Vercel's variables are set and ``attachDatabasePool`` acts).

Both are command apps to the rest of the harness: ``PORT`` gives the host its port, and it is
ready when the port answers HTTP.
"""

from __future__ import annotations

from pathlib import Path

from harness.apphost.node import host_command, node_problem
from harness.errors import ScenarioError
from harness.scenario.records import AppSpec

NODE = "node"


def command_argv(app: AppSpec) -> tuple[str, ...]:
    """The program a command or node app runs as one process (the persistent target)."""
    if app.kind != "node":
        return app.command
    return tuple(host_command(NODE, Path(app.root), dict(app.node_routes), function=False))


def function_commands(app: AppSpec) -> dict[str, tuple[str, ...]]:
    """Route -> the command of that route's own function (empty for other kinds of app)."""
    if app.kind != "node":
        return {}
    return {pattern: tuple(host_command(NODE, Path(app.root), {pattern: file}, function=True))
            for pattern, file in app.node_routes}


def check_node(app: AppSpec, path: str) -> None:
    """ScenarioError (file ``path``) when this machine's ``node`` cannot run the host."""
    problem = node_problem(NODE)
    if problem is not None:
        raise ScenarioError(path, "app.node", problem)
