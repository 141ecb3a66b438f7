"""A command app's instance: the template's child becomes the user's program (``exec``).

The template (harness.apphost.template, started with ``--runtime`` this module) forks one
child per instance, already in its own process group, at the gateway's priority and killed
with the template; the child calls ``main`` with::

    --fd OUT --instance ID --command JSON --root DIR --port-env NAME --port P \
        --extra-fds CONTROL

and replaces itself with the command (``JSON``: its argv, a list; a shell command is
``["/bin/sh", "-c", TEXT]``), in ``DIR``, with ``NAME=P`` (the port it must listen on,
127.0.0.1), ``PGSTAMPEDE_CONTROL_FD`` = the control pipe's write end (the instance may write
newline-delimited JSON on it: docs/app.md) and its standard output and error on ``OUT`` (the
gateway reads them: each line goes to the gateway's log, the last one explains an init
failure). If the program cannot be started, the child says why on ``OUT`` and exits 127.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

CONTROL_ENV = "PGSTAMPEDE_CONTROL_FD"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pgstampede_apphost.command")
    parser.add_argument("--fd", type=int, required=True, help="standard output and error")
    parser.add_argument("--instance", required=True)
    parser.add_argument("--command", required=True, help="the program's argv as JSON")
    parser.add_argument("--root", default="", help="the working directory")
    parser.add_argument("--port-env", default="PORT")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--extra-fds", default="", help="the control pipe's write end")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, started: float | None = None) -> int:
    """Become the command; returns only if it could not be started (127)."""
    args = parse(sys.argv[1:] if argv is None else argv)
    os.dup2(args.fd, 1)
    os.dup2(args.fd, 2)
    if args.fd > 2:
        os.close(args.fd)
    command = [str(part) for part in json.loads(args.command)]
    env = dict(os.environ)
    env[args.port_env] = str(args.port)
    env["PGSTAMPEDE_INSTANCE"] = args.instance
    for fd in filter(None, args.extra_fds.split(",")):
        os.set_inheritable(int(fd), True)
        env[CONTROL_ENV] = fd
    try:
        if args.root:
            os.chdir(args.root)
        os.execvpe(command[0], command, env)
    except OSError as exc:
        print(f"cannot start {command[0]!r}: {exc.strerror or exc}", file=sys.stderr, flush=True)
    return 127
