"""The template process: pre-imports the handler's dependencies, then forks instances on demand.

Started by the gateway (harness.platform.spawner) as::

    python -m harness.platform.template --fd N --handler module:function --parent GATEWAY_PID

``N`` is its end of a SOCK_SEQPACKET control socket. Messages:

    gateway -> template   JSON {"instance": ID, "mode": "fork"|"exec"} + the instance's socket
                          end as SCM_RIGHTS file descriptor
    template -> gateway   JSON {"ready": true, "pid": P} once, after the imports;
                          JSON {"instance": ID, "pid": P} per fork

Each instance is a child of the template that calls ``setsid()`` (its own session and process
group, so the gateway can SIGSTOP/SIGCONT/SIGKILL it as a group) and asks the kernel to SIGKILL
it when the template dies (``PR_SET_PDEATHSIG``); the template asks the same for itself
towards the gateway, so nothing survives the gateway, even a SIGKILLed one. The template
ignores SIGCHLD, so the kernel reaps dead instances. In ``fork`` mode the child runs the
instance runtime directly; in ``exec`` mode it starts a fresh interpreter.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib
import json
import os
import signal
import socket
import sys
import time

PR_SET_PDEATHSIG = 1

# What the template imports once so that a forked instance does not have to.
PRELOAD = (
    "asyncio",
    "json",
    "uvloop",
    "asyncpg",
    "targets.shared.endpoints",
    "targets.shared.errors",
    "targets.shared.settings",
    "harness.platform.protocol",
    "harness.platform.instance",
)


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent exits; exit now if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def _child(ctrl: socket.socket, fd: int, instance: str, mode: str, spec: str) -> None:
    """Runs in the forked child; never returns."""
    started = time.perf_counter()
    code = 1
    try:
        parent = os.getppid()
        os.setsid()
        die_with_parent(parent)
        ctrl.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.environ["PGSTAMPEDE_INSTANCE"] = instance
        if mode == "exec":
            os.set_inheritable(fd, True)
            argv = [sys.executable, "-m", "harness.platform.instance", "--fd", str(fd),
                    "--instance", instance, "--handler", spec]
            os.execv(sys.executable, argv)
        from harness.platform.instance import run_instance

        code = run_instance(fd, spec, started)
    except BaseException as exc:  # the child must never return into the template's loop
        print(f"instance {instance}: {exc!r}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(ctrl: socket.socket, spec: str) -> None:
    """Fork one instance per control message until the gateway closes the socket."""
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctrl, 4096, 1)
        except InterruptedError:
            continue
        if not msg:
            return
        request = json.loads(msg)
        if not fds:
            continue
        pid = os.fork()
        if pid == 0:
            _child(ctrl, fds[0], str(request["instance"]), str(request["mode"]), spec)
        os.close(fds[0])
        ctrl.send(json.dumps({"instance": request["instance"], "pid": pid}).encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.platform.template")
    parser.add_argument("--fd", type=int, required=True, help="control socket (SOCK_SEQPACKET)")
    parser.add_argument("--handler", required=True, help="module:function of the handler")
    parser.add_argument("--parent", type=int, default=0, help="the gateway's pid")
    args = parser.parse_args(argv)
    die_with_parent(args.parent or os.getppid())
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the gateway's to handle
    for name in PRELOAD:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()  # keep the imported objects' pages shared with forked instances
    ctrl = socket.socket(fileno=args.fd)
    ctrl.send(json.dumps({"ready": True, "pid": os.getpid()}).encode())
    serve(ctrl, args.handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
