"""Stopping what a run left running: ``pgstampede clean`` and the reaper share this.

Every service the harness starts writes ``<run>/.pids/<name>.pid`` (its process group id,
and the process's start time when known) and removes it when it stops. A pid file that is
still there after the harness died names a process group to stop if the process with that
pid is the one that was recorded: same start time, or (for a file without one) started
before the file was written, so that a recycled pid is left alone. Pid files may hold
several lines (a gateway lists its instances). Temp folders (clusters, configs) are
registered next to them as ``<name>.tmpdir``, and the run's token as ``run.token``: every
process the harness started carries it in its environment (``PGSTAMPEDE_RUN_TOKEN``), so a
process with no pid file (forked just before the harness died, a worker of a service whose
leader is gone) is found too, and a process that merely reuses a pid is not.

Stopping is the stop policy of ``harness.runtime.stopping`` applied to every process at
once: the first signal to each group (:data:`LEFTOVERS`: SIGQUIT, an immediate shutdown, for
PostgreSQL, whose backends are in their own sessions and would keep running after a SIGKILL
of the postmaster; SIGTERM for the rest), a short grace, then SIGKILL to every process of
the trees found, descendants included.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.runtime.stopping import StopPolicy

GRACE_S = 2.5
LEFTOVER = StopPolicy(signal.SIGTERM, grace_s=GRACE_S)
"""How a leftover group is stopped (every group at once, then one shared grace)..."""
LEFTOVERS: dict[str, StopPolicy] = {
    "postgres": StopPolicy(signal.SIGQUIT, grace_s=GRACE_S),  # immediate shutdown: its
    # backends are in their own sessions and outlive a SIGKILL of the postmaster
    "pgpool": StopPolicy(signal.SIGINT, grace_s=GRACE_S),  # fast shutdown
}
"""...except these services, which get their own polite signal."""
TOKEN_VAR = "PGSTAMPEDE_RUN_TOKEN"
TOKEN_FILE = "run.token"


@dataclass(frozen=True)
class Leftover:
    """A live process group a pid file names: the service, its leader, the file."""

    name: str
    process: psutil.Process
    source: Path


def pid_dirs(folders: Iterable[Path]) -> list[Path]:
    """The ``.pids`` folders of run folders, or of the runs inside a folder (``reports/``)."""
    found = []
    for folder in folders:
        if (folder / ".pids").is_dir():
            found.append(folder / ".pids")
        elif folder.is_dir():
            found += sorted(sub / ".pids" for sub in folder.iterdir()
                            if (sub / ".pids").is_dir())
    return found


def pid_files(dirs: Iterable[Path]) -> list[Path]:
    return [path for folder in dirs for path in sorted(folder.glob("*.pid"))]


def read_entries(path: Path) -> list[tuple[int, float | None]]:
    """``(pid, start time or None)`` per line of a pid file (empty when it is gone)."""
    try:
        text = path.read_text()
    except OSError:
        return []
    out: list[tuple[int, float | None]] = []
    for line in text.splitlines():
        words = line.split()
        if not words or not words[0].isdigit():
            continue
        created = None
        if len(words) > 1:
            with contextlib.suppress(ValueError):
                created = float(words[1])
        out.append((int(words[0]), created))
    return out


def is_recorded(proc: psutil.Process, created: float | None, written: float) -> bool:
    """True when ``proc`` is the process a pid file recorded, not a recycled pid."""
    try:
        started = proc.create_time()
    except psutil.Error:
        return False
    if created is not None:
        return abs(started - created) < 0.05
    return started <= written + 1.0


def leftovers(files: Iterable[Path]) -> list[Leftover]:
    """The live, verified process groups the pid files name."""
    found = []
    for path in files:
        try:
            written = path.stat().st_mtime
        except OSError:  # a link to a gateway's pid list that is gone
            continue
        for pid, created in read_entries(path):
            try:
                proc = psutil.Process(pid)
            except psutil.Error:
                continue
            if alive(proc) and is_recorded(proc, created, written):
                found.append(Leftover(path.stem, proc, path))
    return found


def alive(proc: psutil.Process) -> bool:
    """Running (the same process, not a recycled pid) and not a zombie."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def with_descendants(procs: Iterable[psutil.Process]) -> list[psutil.Process]:
    """``procs`` and their live descendants, each once."""
    seen: dict[int, psutil.Process] = {}
    for proc in procs:
        if not alive(proc):
            continue
        seen.setdefault(proc.pid, proc)
        with contextlib.suppress(psutil.Error):
            for child in proc.children(recursive=True):
                seen.setdefault(child.pid, child)
    return [p for p in seen.values() if p.pid != os.getpid()]


def wait_gone(procs: Iterable[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Wait up to ``timeout_s`` for ``procs`` to end; those still alive."""
    left = list(procs)
    deadline = time.monotonic() + timeout_s
    while True:
        left = [p for p in left if alive(p)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def first_signal(item: Leftover) -> None:
    """The polite stop for a service's group (only when its leader is still the recorded
    process, so the group id cannot have been reused)."""
    if not alive(item.process):
        return
    with contextlib.suppress(OSError):
        os.killpg(item.process.pid, LEFTOVERS.get(item.name, LEFTOVER).signal)


def kill(procs: Iterable[psutil.Process]) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()  # psutil refuses a pid that now names another process


def stop_all(groups: list[Leftover], others: Iterable[psutil.Process] = (),
             grace_s: float = GRACE_S) -> None:
    """Stop ``groups`` (and single processes ``others``) and every descendant: first
    signal, ``grace_s``, then SIGKILL to what is left, new descendants included."""
    others = list(others)
    tree = with_descendants([g.process for g in groups] + others)
    for item in groups:
        first_signal(item)
    for proc in others:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    left = wait_gone(tree, grace_s)
    for _ in range(3):
        left = with_descendants(left)
        if not left:
            return
        kill(left)
        left = wait_gone(left, 2.0)


def remove_tempdirs(dirs: Iterable[Path]) -> list[str]:
    """Remove the temp folders registered in ``dirs`` (``pgstampede-*`` only)."""
    lines = []
    for pid_dir in dirs:
        for record in sorted(pid_dir.glob("*.tmpdir")):
            with contextlib.suppress(OSError):
                folder = Path(record.read_text().strip())
                if folder.name.startswith("pgstampede-") and folder.is_dir():
                    shutil.rmtree(folder, ignore_errors=True)
                    lines.append(f"removed {folder}")
            record.unlink(missing_ok=True)
    return lines


def forget(files: Iterable[Path]) -> None:
    for path in files:
        path.unlink(missing_ok=True)


def read_token(pid_dir: Path) -> str:
    """The run's token (``<run>/.pids/run.token``), or "" when there is none."""
    try:
        return (pid_dir / TOKEN_FILE).read_text().strip()
    except OSError:
        return ""


def marked(tokens: Collection[str]) -> list[psutil.Process]:
    """Live processes whose environment carries one of the run ``tokens`` (every process the
    harness of such a run started inherits its token), this one excluded."""
    found = []
    for proc in psutil.process_iter() if tokens else []:
        if proc.pid == os.getpid():
            continue
        with contextlib.suppress(psutil.Error):
            if proc.environ().get(TOKEN_VAR) in tokens and alive(proc):
                found.append(proc)
    return found


def stop_run(dirs: list[Path], tokens: Collection[str], grace_s: float = GRACE_S) -> list[str]:
    """Stop the groups the pid files in ``dirs`` name and every process carrying one of
    ``tokens`` (a service forked just before the harness died, with no pid file yet)."""
    groups = leftovers(pid_files(dirs))
    leaders = {g.process.pid for g in groups}
    strays = [p for p in marked(tokens) if p.pid not in leaders]
    stop_all(groups, strays, grace_s)
    return [f"stopped {g.name} (process group {g.process.pid}) from {g.source}"
            for g in groups] + [f"stopped process {p.pid} (found by the run's token)"
                                for p in strays]


def tidy(dirs: list[Path]) -> list[str]:
    """Forget the pid files and tokens of ``dirs``; remove the temp folders they registered."""
    forget(pid_files(dirs))
    forget(d / TOKEN_FILE for d in dirs)
    return remove_tempdirs(dirs)


def clean(folders: Iterable[Path]) -> list[str]:
    """Stop what the runs in ``folders`` left running and remove the temp folders
    (clusters, configs) they used; one line per action."""
    dirs = pid_dirs(folders)
    tokens = {token for d in dirs if (token := read_token(d))}
    lines = stop_run(dirs, tokens, grace_s=3.0) + tidy(dirs)
    return lines or ["nothing left running"]
