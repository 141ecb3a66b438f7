"""``pgstampede clean``: stop what a crashed harness left behind.

Every service the harness starts writes ``<run>/.pids/<name>.pid`` (its process group id)
and removes it when it stops. A pid file that is still there after the harness died names a
process group to stop, if a process with that pid started before the file was written
(so a recycled pid is left alone). Pid files may hold several lines (a gateway lists its
instances).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import psutil

from harness.runtime.managed import stop_group


def _pid_files(folders: Iterable[Path]) -> Iterator[Path]:
    for folder in folders:
        if (folder / ".pids").is_dir():
            yield from sorted((folder / ".pids").glob("*.pid"))
        elif folder.is_dir():
            for sub in sorted(folder.iterdir()):
                if (sub / ".pids").is_dir():
                    yield from sorted((sub / ".pids").glob("*.pid"))


def _pids(path: Path) -> list[int]:
    out = []
    for line in path.read_text().split():
        if line.strip().isdigit():
            out.append(int(line))
    return out


def _ours(pid: int, written: float) -> bool:
    try:
        return psutil.Process(pid).create_time() <= written + 1.0
    except psutil.Error:
        return False


def _remove_tempdirs(pid_dirs: Iterable[Path]) -> list[str]:
    lines = []
    for pid_dir in pid_dirs:
        for record in sorted(pid_dir.glob("*.tmpdir")):
            folder = Path(record.read_text().strip())
            if folder.name.startswith("pgstampede-") and folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
                lines.append(f"removed {folder}")
            record.unlink(missing_ok=True)
    return lines


def clean(folders: Iterable[Path]) -> list[str]:
    """Stop the process groups named by leftover pid files and remove the temp folders
    (clusters, configs) they used; one line per action."""
    lines = []
    pid_dirs = set()
    for path in _pid_files(folders):
        pid_dirs.add(path.parent)
        try:
            written = path.stat().st_mtime
        except FileNotFoundError:  # a link to a gateway's pid list that is gone
            path.unlink(missing_ok=True)
            continue
        for pid in _pids(path):
            if _ours(pid, written):
                stop_group(pid, grace_s=3.0)
                lines.append(f"stopped {path.stem} (process group {pid}) from {path}")
        path.unlink(missing_ok=True)
    for folder in folders:
        pid_dirs.update(p for p in [folder / ".pids", *folder.glob("*/.pids")] if p.is_dir())
    lines += _remove_tempdirs(pid_dirs)
    return lines or ["nothing left running"]
