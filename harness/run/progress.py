"""Live progress of a run in the terminal.

On a terminal, one status line is redrawn in place (rich); elsewhere (CI logs) a plain line
is printed every few seconds, so logs stay readable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.text import Text


@dataclass(frozen=True)
class Snapshot:
    """What is going on right now in one variant run."""

    elapsed_s: float
    duration_s: float
    stage: int
    stages: int
    users: int
    rps: float
    requests: int
    failures: int
    db_connections: float | None
    instances: float | None = None
    cl_waiting: float | None = None


def format_snapshot(label: str, snap: Snapshot) -> str:
    parts = [
        label,
        f"{snap.elapsed_s:5.1f}/{snap.duration_s:.0f}s",
        f"stage {snap.stage}/{snap.stages}",
        f"users {snap.users}",
        f"rps {snap.rps:,.0f}",
        f"errors {snap.failures:,}/{snap.requests:,}",
    ]
    if snap.db_connections is not None:
        parts.append(f"db conns {snap.db_connections:.0f}")
    if snap.cl_waiting is not None:
        parts.append(f"cl_waiting {snap.cl_waiting:.0f}")
    if snap.instances is not None:
        parts.append(f"instances {snap.instances:.0f}")
    return "  ".join(parts)


class Progress:
    """Prints run progress; ``quiet`` prints only messages."""

    def __init__(self, console: Console | None = None, quiet: bool = False,
                 plain_every_s: float = 5.0) -> None:
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.plain_every_s = plain_every_s
        self._live: Live | None = None
        self._label = ""
        self._last_plain = 0.0

    def message(self, text: str) -> None:
        self.console.print(text, highlight=False, soft_wrap=True)

    def variant_started(self, label: str) -> None:
        self._label = label
        self.message(f"▶ {label}")
        if not self.quiet and self.console.is_terminal:
            self._live = Live(Text(""), console=self.console, refresh_per_second=4,
                              transient=True)
            self._live.start()

    def update(self, snap: Snapshot) -> None:
        if self.quiet:
            return
        line = format_snapshot(self._label, snap)
        if self._live is not None:
            self._live.update(Text(line))
        elif time.monotonic() - self._last_plain >= self.plain_every_s:
            self._last_plain = time.monotonic()
            self.message("  " + line)

    def variant_finished(self, text: str) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        self.message(f"  {text}")
