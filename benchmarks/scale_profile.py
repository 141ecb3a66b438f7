"""A profile of the scale-out burst with ``perf`` (``platform_scale.py --profile``).

``perf record -a -g`` samples every CPU during the burst; each sample's call chain says what
the kernel or the process was doing. Samples are grouped by process role (the pids of
scale_breakdown's roles) and by kind of work, and printed as milliseconds of CPU per new
instance. Needs ``perf`` (Debian: linux-perf) and permission to sample the whole machine
(root, or ``kernel.perf_event_paranoid`` <= 0).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

FREQUENCY_HZ = 499
KINDS = (
    ("page copies on write (fork's shared pages)", ("do_wp_page", "wp_page_copy")),
    ("zero-filled new pages", ("do_anonymous_page",)),
    ("file and shared-memory page faults", ("do_fault", "filemap_map_pages", "shmem_fault")),
    ("fork (copying page tables)", ("copy_page_range", "dup_mm", "dup_mmap")),
    ("exit (unmapping)", ("exit_mmap", "unmap_vmas", "unmap_page_range")),
    ("other page faults", ("exc_page_fault", "handle_mm_fault")),
)
USER = "in the process (its own code and libraries)"
KERNEL = "other kernel work (system calls, scheduling)"


@dataclass
class Profile:
    samples: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def lines(self, n: int, hz: int = FREQUENCY_HZ) -> list[str]:
        per = 1000.0 / hz / max(n, 1)  # ms of CPU per new instance, per sample
        out = []
        for role, kinds in sorted(self.samples.items(), key=lambda kv: -kv[1].total()):
            out.append(f"  {role:<10} {kinds.total() * per:6.2f} ms CPU per new instance")
            for kind, count in kinds.most_common():
                out.append(f"    {count * per:6.2f} ms  {kind}")
        return out


def kind_of(stack: list[str]) -> str:
    """The kind of work of one sample, from its call chain (leaf first, "ADDR SYMBOL")."""
    symbols = " ".join(stack)
    for kind, markers in KINDS:
        if any(marker in symbols for marker in markers):
            return kind
    leaf = stack[0].split()[0] if stack else ""
    try:
        kernel = int(leaf, 16) >= 0xFFFF800000000000
    except ValueError:
        kernel = False
    return KERNEL if kernel else USER


def parse(text: str, roles: Mapping[int, str]) -> Profile:
    """``perf script -F comm,pid,ip,sym`` output: samples of the roles' pids, others (idle,
    kernel threads, other programs) left out."""
    profile = Profile()
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        head = lines[0].split()
        if len(head) < 2 or not head[-1].isdigit():
            continue
        role = roles.get(int(head[-1]))
        if role is None:
            continue
        profile.samples[role][kind_of([line.strip() for line in lines[1:]])] += 1
    return profile


@contextlib.contextmanager
def recording() -> Iterator[Path]:
    """``perf record -a -g`` for the duration of the block; the data file."""
    folder = Path(tempfile.mkdtemp(prefix="pgstampede-perf-"))
    data = folder / "perf.data"
    proc = subprocess.Popen(["perf", "record", "-q", "-F", str(FREQUENCY_HZ), "-a", "-g",
                             "-o", str(data)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        yield data
    finally:
        err = _stop(proc)
    if proc.returncode not in (0, -signal.SIGINT) or not data.exists():
        raise RuntimeError(f"perf record failed: {err}")


def _stop(proc: subprocess.Popen[bytes]) -> str:
    """Stop ``perf record`` (SIGINT: it writes its file; SIGKILL if it does not end); its
    error output."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    return err.decode(errors="replace").strip()


def read(data: Path, roles: Mapping[int, str]) -> Profile:
    text = subprocess.run(["perf", "script", "-F", "comm,pid,ip,sym", "-i", str(data)],
                          capture_output=True, text=True, check=True).stdout
    with contextlib.suppress(OSError):
        data.unlink()
        data.parent.rmdir()
    return parse(text, roles)
