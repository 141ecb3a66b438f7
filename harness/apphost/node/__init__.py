"""pgstampede's Node host for Vercel-style function files.

JavaScript with no dependency but Node.js >= 18, run by the app's own ``node``. This module
only names its files and builds its command line; nothing here runs in the harness's process.

    host.mjs      entry: arguments, loads the routes' files, serves HTTP on the port, stops
    loader.mjs    one file -> its handler (web exports, Node signature, or a server it started)
    node_api.mjs  the Vercel Node signature's helpers (req.query, req.body, res.json, ...)
    web.mjs       Node request -> Request, Response -> Node response
    routes.mjs    the route table (static and [dynamic] segments)
    context.mjs   Vercel's request context (waitUntil, headers, upgradeWebSocket)
    control.mjs   the control channel to the platform (PGSTAMPEDE_CONTROL_FD)
    errors.mjs    an exception's type, message and the app's own frame
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

HOST = Path(__file__).with_name("host.mjs")
MIN_NODE_MAJOR = 18
CONTROL_FD_ENV = "PGSTAMPEDE_CONTROL_FD"


def host_command(node: str, root: Path, routes: Mapping[str, str], *, function: bool,
                 websockets: bool = True, port: int | None = None) -> list[str]:
    """The command that serves ``routes`` (path pattern -> file relative to ``root``).

    ``function``: one serverless function instance (sets Vercel's environment variables, so
    ``attachDatabasePool`` acts). Without ``port`` the host listens on ``$PORT``."""
    command = [node, str(HOST), "--root", str(root)]
    for pattern, file in routes.items():
        command += ["--route", f"{pattern}={file}"]
    if function:
        command.append("--function")
    if not websockets:
        command.append("--no-websockets")
    if port is not None:
        command += ["--port", str(port)]
    return command


def node_version(node: str) -> tuple[int, int, int] | None:
    """The version ``node --version`` prints; None when it is not found or does not run."""
    path = shutil.which(node)
    if path is None:
        return None
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)\S*", done.stdout.strip())
    if done.returncode != 0 or match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def node_problem(node: str) -> str | None:
    """Why ``node`` cannot run the host (not found, does not run, older than 18); None if it can."""
    if shutil.which(node) is None:
        return f"{node} not found (install Node.js {MIN_NODE_MAJOR} or newer: make setup does)"
    version = node_version(node)
    if version is None:
        return f"{node} --version does not print a Node.js version"
    if version[0] < MIN_NODE_MAJOR:
        shown = ".".join(map(str, version))
        return f"{node} is Node.js {shown}: the Node host needs {MIN_NODE_MAJOR} or newer"
    return None
