"""The template process: imports what instances share, then forks (or execs) instances.

Started by the gateway (harness.platform.spawner) under the instances' interpreter::

    python -m PACKAGE.template --fd N --parent GATEWAY_PID --runtime MODULE \
        [--root DIR] [--preload a,b,c] -- RUNTIME_ARGS...

``MODULE`` is the instance runtime: ``harness.platform.instance`` (the built-in handler) or
``pgstampede_apphost.instance`` (a user's app). ``N`` is its end of a SOCK_SEQPACKET
control socket. Messages:

    gateway -> template   JSON {"instance": ID, "mode": "fork"|"exec", "args": [...]} + the
                          instance's socket end as SCM_RIGHTS file descriptor, then up to
                          ``MAX_FDS - 1`` more descriptors for the instance (a command app's
                          control pipe); ``args`` (optional): the instance's own arguments
    template -> gateway   JSON {"ready": true, "pid": P} once, after the preloads;
                          JSON {"instance": ID, "pid": P} per fork;
                          JSON {"error": TEXT} instead of ready if a preload or the
                          runtime's ``prime()`` fails (it exits)

Each instance is a child of the template that calls ``setpgid(0, 0)`` (its own process
group, so the gateway can SIGSTOP/SIGCONT/SIGKILL it as a group; not its own session: with
the kernel's autogroup scheduling each session is a group of equal weight, and a burst of
hundreds of instances in their own sessions would starve the template and the gateway that
start them) and asks the kernel to SIGKILL it when the template dies (``PR_SET_PDEATHSIG``);
the template asks the same for itself towards the gateway, so nothing survives the gateway,
even a SIGKILLed one. The template ignores SIGCHLD, so the kernel reaps dead instances.
The template (and the gateway) ask for a higher CPU priority (nice ``CONTROL_NICE``) where
they may (root, CAP_SYS_NICE): the platform's control plane is not an instance competing for
a core; instances run at the priority the gateway was started with. ``fork``: the child calls
``MODULE.main(["--fd", FD, "--instance", ID, *RUNTIME_ARGS], started)``; ``exec``: it runs
``python -m MODULE`` with the same arguments in a fresh interpreter. The instance's own
``args`` follow, then ``--extra-fds A,B`` when more descriptors came with the request.
Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib
import json
import os
import signal
import socket
import sys
import time

from .loader import error_text, prepare

PR_SET_PDEATHSIG = 1
MAX_FDS = 4
INSTANCE_NICE_ENV = "PGSTAMPEDE_INSTANCE_NICE"  # set by the gateway: its priority before raising
CONTROL_NICE = -10


def raise_priority(nice: int = CONTROL_NICE) -> int:
    """Lower this process's nice value to ``nice`` where allowed; the value it had before."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    with contextlib.suppress(OSError):  # not permitted (no CAP_SYS_NICE): keep ours
        os.setpriority(os.PRIO_PROCESS, 0, min(nice, before))
    return before


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent exits; exit now if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def _child(ctrl: socket.socket, fds: list[int], instance: str, mode: str, runtime: str,
           extra: list[str], nice: int) -> None:
    """Runs in the forked child; never returns."""
    started = time.perf_counter()
    code = 1
    try:
        parent = os.getppid()
        os.setpgid(0, 0)
        os.setpriority(os.PRIO_PROCESS, 0, nice)  # back to the gateway's original priority
        die_with_parent(parent)
        ctrl.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.environ["PGSTAMPEDE_INSTANCE"] = instance
        fd = fds[0]
        argv = ["--fd", str(fd), "--instance", instance, *extra]
        if len(fds) > 1:
            argv += ["--extra-fds", ",".join(str(f) for f in fds[1:])]
        if mode == "exec":
            for each in fds:
                os.set_inheritable(each, True)
            os.execv(sys.executable, [sys.executable, "-m", runtime, *argv])
        code = importlib.import_module(runtime).main(argv, started)
    except BaseException as exc:  # the child must never return into the template's loop
        print(f"instance {instance}: {exc!r}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(ctrl: socket.socket, runtime: str, extra: list[str], nice: int = 0) -> None:
    """Fork one instance per control message until the gateway closes the socket."""
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctrl, 4096, MAX_FDS)
        except InterruptedError:
            continue
        if not msg:
            return
        request = json.loads(msg)
        if not fds:
            continue
        own = [str(a) for a in request.get("args", ())]
        pid = os.fork()
        if pid == 0:
            _child(ctrl, fds, str(request["instance"]), str(request["mode"]), runtime,
                   [*extra, *own], nice)
        for fd in fds:
            os.close(fd)
        ctrl.send(json.dumps({"instance": request["instance"], "pid": pid}).encode())


def preload(modules: list[str]) -> str:
    """Import the modules instances share; the first failure's text ("" when all loaded)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            return f"preload {name!r}: {error_text(exc)}"
    return ""


def prime(runtime: str) -> str:
    """Run the runtime's ``prime()``, if it has one (code every instance runs, run once here
    so that forked instances share it already specialised); its failure's text, or ""."""
    hook = getattr(sys.modules.get(runtime), "prime", None)
    if not callable(hook):
        return ""
    try:
        hook()
    except Exception as exc:
        return f"prime {runtime!r}: {error_text(exc)}"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pgstampede_apphost.template")
    parser.add_argument("--fd", type=int, required=True, help="control socket (SOCK_SEQPACKET)")
    parser.add_argument("--parent", type=int, default=0, help="the gateway's pid")
    parser.add_argument("--runtime", required=True, help="the instance runtime module")
    parser.add_argument("--root", default="", help="first on sys.path, working directory")
    parser.add_argument("--preload", default="", help="modules to import, comma-separated")
    parser.add_argument("extra", nargs="*", help="the runtime's own arguments (after --)")
    args = parser.parse_args(argv)
    die_with_parent(args.parent or os.getppid())
    own = raise_priority()
    nice = int(os.environ.pop(INSTANCE_NICE_ENV, own))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the gateway's to handle
    ctrl = socket.socket(fileno=args.fd)
    prepare(args.root)
    error = preload([name for name in args.preload.split(",") if name]) or prime(args.runtime)
    if error:
        print(f"template: {error}", file=sys.stderr)
        ctrl.send(json.dumps({"error": error}).encode())
        return 2
    gc.collect()
    gc.freeze()  # keep the imported objects' pages shared with forked instances
    ctrl.send(json.dumps({"ready": True, "pid": os.getpid()}).encode())
    serve(ctrl, args.runtime, args.extra, nice)
    return 0


if __name__ == "__main__":
    sys.exit(main())
