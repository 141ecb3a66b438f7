"""One instance as the gateway sees it: its process, its socket, its lifecycle phase."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from harness.platform.stream import StreamBody

STARTING = "starting"
READY = "ready"
ZOMBIE = "zombie"
DEAD = "dead"


@dataclass(frozen=True)
class Reply:
    """An HTTP answer for the client: status, body bytes and, from an app, its headers
    (None: a JSON body, from the built-in handler or the gateway itself)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] | None = None
    stream: StreamBody | None = None  # a streamed body (harness.platform.stream)
    held: asyncio.Event | None = None  # set when the instance released the request's slot


class Instance:
    """Mutable lifecycle record of one instance (owned by the InstancePool)."""

    def __init__(self, instance_id: str, started_wall: float, started_mono: float) -> None:
        self.id = instance_id
        self.pid = 0
        self.state = STARTING
        self.frozen = False
        self.draining = False
        self.in_flight = 0
        self.requests = 0
        self.started_wall = started_wall
        self.started_mono = started_mono
        self.idle_since = started_mono
        self.writer: asyncio.StreamWriter | None = None
        self.pending: dict[int, asyncio.Future[Reply]] = {}
        self.streams: dict[int, StreamBody] = {}  # streamed responses still running
        self.holds: dict[int, asyncio.Event] = {}  # requests whose work runs after the answer
        self.next_id = 1
        self.background = 0  # units of app work still running after their response

    @property
    def phase(self) -> str:
        """starting, busy, warm, frozen or zombie (the states the platform reports)."""
        if self.state in (STARTING, ZOMBIE):
            return self.state
        if self.in_flight > 0:
            return "busy"
        return "frozen" if self.frozen else "warm"

    def describe(self, now_mono: float) -> dict[str, object]:
        return {
            "id": self.id,
            "pid": self.pid,
            "state": self.phase if self.state != DEAD else DEAD,
            "in_flight": self.in_flight,
            "requests": self.requests,
            "age_s": round(now_mono - self.started_mono, 3),
        }
