"""One instance as the pool keeps it: its lifecycle state, its slots, frozen or not.

    starting --ready--> ready (busy | warm | frozen) --idle_timeout--> dead (reap = "kill")
                                                                   └─> zombie (reap = "abandon")
                                                                       --max_lifetime--> dead

``Member`` is the pool's mutable bookkeeping around an ``Instance`` of some kind
(harness.platform.kind), which does the actual work.
"""

from __future__ import annotations

from harness.platform.kind import Instance

STARTING = "starting"
READY = "ready"
ZOMBIE = "zombie"
DEAD = "dead"


class Member:
    """The pool's record of one instance (owned by harness.platform.lifecycle.Lifecycle)."""

    def __init__(self, member_id: str, started_wall: float, started_mono: float) -> None:
        self.id = member_id
        self.instance: Instance | None = None  # set right after creation
        self.state = STARTING
        self.frozen = False
        self.draining = False  # past max_lifetime: takes no new request, killed when idle
        self.in_flight = 0  # requests holding one of its slots
        self.requests = 0
        self.started_wall = started_wall
        self.started_mono = started_mono
        self.idle_since = started_mono
        self.background = 0  # units of app work still running after their response
        self.pending = 0  # work the instance says is pending (control channel): busy while > 0
        self.end_reason = ""  # why it was killed ("reaped", "exited", ...), once dead

    @property
    def idle(self) -> bool:
        """Nothing in flight and nothing pending: it may be frozen, and reaped in time."""
        return self.in_flight == 0 and self.pending == 0

    @property
    def phase(self) -> str:
        """starting, busy, warm, frozen or zombie (the states the platform reports)."""
        if self.state in (STARTING, ZOMBIE):
            return self.state
        if not self.idle:
            return "busy"
        return "frozen" if self.frozen else "warm"

    def pids(self) -> list[int]:
        return [] if self.instance is None else self.instance.pids()

    def describe(self, now_mono: float) -> dict[str, object]:
        pids = self.pids()
        return {
            "id": self.id,
            "pid": pids[0] if pids else 0,
            "state": self.phase if self.state != DEAD else DEAD,
            "in_flight": self.in_flight,
            "requests": self.requests,
            "age_s": round(now_mono - self.started_mono, 3),
        }
