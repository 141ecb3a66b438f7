"""The reaper: nothing a run started outlives the harness, even after ``kill -9``.

``pgstampede run`` starts ``python -m harness.runtime.reaper`` before anything else, in its own
session (Ctrl-C in the terminal does not reach it), holding the read end of a pipe whose
write end only the harness holds. It waits. When the run ends normally the harness writes
``done`` and the reaper exits without doing anything. When the harness dies any other way,
the pipe reaches end-of-file (or the reaper finds itself re-parented) and the reaper does
what ``pgstampede clean`` does for that run folder, then exits:

- the process groups named by ``<run>/.pids/*.pid`` (identity checked by start time), with
  every descendant (PostgreSQL's backends, Locust's ``--processes`` workers, the gateway's
  template and instances);
- every process carrying the run's token: the harness puts a random
  ``PGSTAMPEDE_RUN_TOKEN`` in its own environment, which every process it starts inherits,
  so a service forked just before the kill, whose pid file was not written yet, is found
  too (and a process that merely reuses a pid is not: it has no token);
- with ``--docker``, the containers labelled with the run (``pgstampede.run``);
- the temp folders registered in ``<run>/.pids`` and the pid files themselves.

What it did is in ``<run>/.pids/reaper.log``. A machine crash kills the reaper too: that is
what ``pgstampede clean`` is for.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.runtime.cleanup import TOKEN_FILE, TOKEN_VAR, marked, stop_all, stop_run, tidy

DONE = b"done\n"
LOG_NAME = "reaper.log"

if TYPE_CHECKING:
    import docker


@contextlib.contextmanager
def reaper(run_dir: Path, *, docker: bool = False) -> Iterator[None]:
    """While inside, a reaper watches this process and cleans ``run_dir`` up if it dies."""
    pid_dir = run_dir.absolute() / ".pids"
    pid_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    (pid_dir / TOKEN_FILE).write_text(f"{token}\n")  # for `clean` if the reaper dies too
    proc, write_fd = _start(pid_dir, token, docker)
    previous = os.environ.get(TOKEN_VAR)
    os.environ[TOKEN_VAR] = token
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(TOKEN_VAR, None)
        else:
            os.environ[TOKEN_VAR] = previous
        _dismiss(proc, write_fd)
        (pid_dir / TOKEN_FILE).unlink(missing_ok=True)
        log = pid_dir / LOG_NAME
        if log.exists() and log.stat().st_size == 0:
            log.unlink()


def _start(pid_dir: Path, token: str, docker: bool) -> tuple[subprocess.Popen[bytes], int]:
    read_fd, write_fd = os.pipe()  # neither end is inherited by the services (PEP 446)
    root = str(Path(__file__).resolve().parents[2])
    env = {k: v for k, v in os.environ.items() if k != TOKEN_VAR}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", "harness.runtime.reaper", "--run-dir", str(pid_dir.parent),
            "--token", token, "--fd", str(read_fd), "--harness", str(os.getpid())]
    try:
        with (pid_dir / LOG_NAME).open("ab") as log:
            proc = subprocess.Popen(argv + (["--docker"] if docker else []),
                                    pass_fds=(read_fd,), start_new_session=True, cwd="/",
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    except BaseException:
        os.close(write_fd)
        raise
    finally:
        os.close(read_fd)
    return proc, write_fd


def _dismiss(proc: subprocess.Popen[bytes], write_fd: int) -> None:
    """Tell the reaper the run ended normally and wait for it to exit."""
    with contextlib.suppress(OSError):
        os.write(write_fd, DONE)
    os.close(write_fd)
    try:
        proc.wait(timeout=10.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def harness_died(fd: int, harness: int, poll_s: float = 0.5) -> bool:
    """Block until the harness says ``done`` (False) or dies (True): end-of-file on the
    pipe, or this process re-parented (the harness gone, whoever holds the pipe)."""
    while True:
        ready, _, _ = select.select([fd], [], [], poll_s)
        if ready:
            return not os.read(fd, 64).startswith(DONE)
        if os.getppid() != harness:
            return True


def reap(run_dir: Path, token: str, *, docker: bool = False) -> list[str]:
    """Stop everything of the run in ``run_dir``; one line per action."""
    dirs = [run_dir / ".pids"]
    lines = stop_run(dirs, {token})
    if docker:
        lines += remove_containers(run_dir)
    for _ in range(3):  # a fork or a container's gateway that was in flight
        late = marked({token})
        if not late:
            break
        stop_all([], late, grace_s=0.5)
        lines += [f"stopped late process {p.pid}" for p in late]
    return lines + tidy(dirs)


def remove_containers(run_dir: Path) -> list[str]:
    """Remove the containers labelled with the run; again a second later (a creation the
    dead gateway asked for may still have been in flight)."""
    from concurrent.futures import ThreadPoolExecutor

    from harness.errors import InputError
    from harness.runtime.docker_engine import LABEL_RUN, connect, labelled, run_names

    try:
        client = connect(timeout_s=15.0)
    except InputError as exc:
        return [f"containers not removed: {exc}"]
    lines = []
    try:
        for attempt in range(2):
            time.sleep(attempt * 1.0)
            found = [c for name in run_names([run_dir])
                     for c in labelled(client, {LABEL_RUN: name})]
            with ThreadPoolExecutor(max_workers=8) as pool:
                lines += [line for line in pool.map(
                    lambda c: _remove(client, c), found) if line]
    finally:
        client.close()
    return lines


def _remove(client: docker.DockerClient, summary: dict[str, Any]) -> str:
    from docker.errors import DockerException

    from harness.runtime.docker_engine import summary_name

    try:
        client.api.remove_container(summary["Id"], force=True)
    except DockerException:  # gone meanwhile
        return ""
    return f"removed container {summary_name(summary)}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.runtime.reaper",
                                     description="clean a run up when its harness dies")
    parser.add_argument("--run-dir", required=True, type=Path)
    parser.add_argument("--token", required=True)
    parser.add_argument("--fd", required=True, type=int, help="read end of the harness's pipe")
    parser.add_argument("--harness", required=True, type=int, help="the harness's pid")
    parser.add_argument("--docker", action="store_true", help="remove the run's containers")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTSTP):
        signal.signal(sig, signal.SIG_IGN)
    if not harness_died(args.fd, args.harness):
        return 0
    for line in reap(args.run_dir, args.token, docker=args.docker):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
