"""What the gateway reports at ``GET /__platform/stats``: records and their JSON shape.

    {"t": 1700000000.12,                     wall clock of the snapshot
     "starting": 0, "busy": 3, "warm": 0, "frozen": 12, "zombie": 0,
     "instances": 15,                        live instances (all states but zombie)
     "queue": 0,                             requests waiting for an instance
     "cold_starts": 15, "reaped": 2, "throttled": 0,      cumulative
     "recycled": 0, "crashed": 0, "timeouts": 0, "failed_starts": 0,   cumulative
     "init_failures": 0,                     cumulative: instances whose init failed (apps)
     "background_completed": 4, "background_delayed": 1, "background_lost": 2,   cumulative
     "background_pending": 3,                units of app work running after their response
     "cursor": 15,                           pass as ?since= to get only newer cold starts
     "cold_start_events": [{"t": 1700000000.01, "instance": "i1", "duration_ms": 23.4}, ...],
     "init_errors": [{"t": 1700000000.3, "instance": "i4", "error": "ModuleNotFoundError: ..."}]}

``cold_start_events`` holds the cold starts completed since ``?since=`` (default 0: all),
each with its wall-clock start and its duration until the handler module was initialised.
``init_errors`` holds every distinct init error text once (its first occurrence; at most
``MAX_INIT_ERRORS``). Background counts come from app instances (harness.apphost.background):
``completed`` includes ``delayed`` (finished after a freeze and a thaw); ``lost`` is the work
still pending in an instance when it was killed or abandoned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

PHASES = ("starting", "busy", "warm", "frozen", "zombie")
MAX_INIT_ERRORS = 20


@dataclass(frozen=True)
class ColdStart:
    t: float
    instance: str
    duration_ms: float


@dataclass(frozen=True)
class InitError:
    """An instance whose init failed: when it started, which one, the first error's text."""

    t: float
    instance: str
    error: str


@dataclass
class Counters:
    """Cumulative event counts of one gateway."""

    cold_starts: int = 0
    reaped: int = 0
    throttled: int = 0
    recycled: int = 0
    crashed: int = 0
    timeouts: int = 0
    failed_starts: int = 0
    init_failures: int = 0
    background_completed: int = 0
    background_delayed: int = 0
    background_lost: int = 0


@dataclass(frozen=True)
class Snapshot:
    t: float
    phases: dict[str, int]
    queue: int
    counters: Counters
    cursor: int
    events: list[ColdStart] = field(default_factory=list)
    background_pending: int = 0
    init_errors: list[InitError] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        doc: dict[str, object] = {"t": self.t}
        doc.update({phase: self.phases.get(phase, 0) for phase in PHASES})
        doc["instances"] = sum(self.phases.get(p, 0) for p in PHASES if p != "zombie")
        doc["queue"] = self.queue
        doc.update(asdict(self.counters))
        doc["background_pending"] = self.background_pending
        doc["cursor"] = self.cursor
        doc["cold_start_events"] = [asdict(event) for event in self.events]
        doc["init_errors"] = [asdict(error) for error in self.init_errors]
        return doc
