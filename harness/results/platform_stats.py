"""What the platform's gateway reports at ``GET /__platform/stats``: typed records and their
JSON shape (the gateway writes it, harness.platform.stats; the platform collector reads it,
harness.collect.platform; the run folder keeps the last one as ``logs/platform-stats.json``).

    {"t": 1700000000.12,                     wall clock of the snapshot
     "starting": 0, "busy": 3, "warm": 0, "frozen": 12, "zombie": 0,
     "instances": 15,                        live instances (all states but zombie)
     "queue": 0,                             requests waiting for an instance
     "cold_starts": 15, "reaped": 2, "throttled": 0,      cumulative
     "recycled": 0, "crashed": 0, "timeouts": 0, "failed_starts": 0,   cumulative
     "init_failures": 0,                     cumulative: instances whose init failed (apps)
     "background_completed": 4, "background_delayed": 1, "background_lost": 2,   cumulative
     "exceptions": 0,                        cumulative: unhandled exceptions instances reported
     "background_pending": 3,                units of app work running after their response
     "cursor": 15,                           pass as ?since= to get only newer cold starts
     "cold_start_events": [{"t": 1700000000.01, "instance": "i1", "duration_ms": 23.4}, ...],
     "init_errors": [{"t": 1700000000.3, "instance": "i4", "error": "ModuleNotFoundError: ..."}]}

``cold_start_events`` holds the cold starts completed since ``?since=`` (default 0: all),
each with its wall-clock start and its duration until the instance was ready. ``init_errors``
holds every distinct init error text once (its first occurrence; at most
``MAX_INIT_ERRORS``). Background counts come from app instances (harness.apphost.background):
``completed`` includes ``delayed`` (finished after a freeze and a thaw); ``lost`` is the work
still pending in an instance when it was killed or abandoned. A busy instance is one with a
request in flight or, through the control channel, work pending after its responses.

``PlatformStats.from_dict`` reads that JSON back strictly (the platform collector): a missing
key, an unknown key or a value of the wrong type is a ``ValueError`` naming the key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

PHASES = ("starting", "busy", "warm", "frozen", "zombie")
MAX_INIT_ERRORS = 20


@dataclass(frozen=True)
class ColdStart:
    t: float
    instance: str
    duration_ms: float


@dataclass(frozen=True)
class InitFailure:
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
    exceptions: int = 0


@dataclass(frozen=True)
class PlatformStats:
    """One snapshot of the gateway (the JSON above)."""

    t: float
    phases: dict[str, int]  # every one of PHASES
    queue: int
    counters: Counters
    cursor: int
    events: list[ColdStart] = field(default_factory=list)  # cold starts since the cursor asked
    background_pending: int = 0
    init_errors: list[InitFailure] = field(default_factory=list)

    @property
    def instances(self) -> int:
        """Live instances: every phase but zombie."""
        return sum(self.phases[p] for p in PHASES if p != "zombie")

    def to_dict(self) -> dict[str, object]:
        doc: dict[str, object] = {"t": self.t}
        doc.update({phase: self.phases[phase] for phase in PHASES})
        doc["instances"] = self.instances
        doc["queue"] = self.queue
        doc.update(asdict(self.counters))
        doc["background_pending"] = self.background_pending
        doc["cursor"] = self.cursor
        doc["cold_start_events"] = [asdict(event) for event in self.events]
        doc["init_errors"] = [asdict(error) for error in self.init_errors]
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> PlatformStats:
        counter_names = [f.name for f in fields(Counters)]
        expected = {"t", *PHASES, "instances", "queue", *counter_names, "background_pending",
                    "cursor", "cold_start_events", "init_errors"}
        unknown = sorted(set(doc) - expected)
        if unknown:
            raise ValueError(f"platform stats: unknown keys {unknown}")
        return cls(
            t=_number(doc, "t"),
            phases={phase: _int(doc, phase) for phase in PHASES},
            queue=_int(doc, "queue"),
            counters=Counters(**{name: _int(doc, name) for name in counter_names}),
            cursor=_int(doc, "cursor"),
            events=[ColdStart(_number(e, "t"), _text(e, "instance"), _number(e, "duration_ms"))
                    for e in _objects(doc, "cold_start_events")],
            background_pending=_int(doc, "background_pending"),
            init_errors=[InitFailure(_number(e, "t"), _text(e, "instance"), _text(e, "error"))
                         for e in _objects(doc, "init_errors")],
        )


def _get(doc: dict[str, Any], key: str) -> Any:
    if key not in doc:
        raise ValueError(f"platform stats: {key}: missing")
    return doc[key]


def _int(doc: dict[str, Any], key: str) -> int:
    value = _get(doc, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"platform stats: {key}: expected an integer, got {value!r}")
    return value


def _number(doc: dict[str, Any], key: str) -> float:
    value = _get(doc, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"platform stats: {key}: expected a number, got {value!r}")
    return float(value)


def _text(doc: dict[str, Any], key: str) -> str:
    value = _get(doc, key)
    if not isinstance(value, str):
        raise ValueError(f"platform stats: {key}: expected a string, got {value!r}")
    return value


def _objects(doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = _get(doc, key)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"platform stats: {key}: expected a list of objects")
    return value
