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
     "cold_start_events": [{"t": 1700000000.01, "instance": "i1", "duration_ms": 23.4,
                            "cpu_ms": 9.8}, ...],
     "init_errors": [{"t": 1700000000.3, "instance": "i4", "error": "ModuleNotFoundError: ..."}],
     "exception_cursor": 2,                  pass as ?exceptions_since= (newer exceptions only)
     "exception_events": [{"t": 1700000001.2, "instance": "i3", "type": "KeyError",
                           "message": "'user'", "where": "app/routes.py:17"}, ...]}

``cold_start_events`` holds the cold starts completed since ``?since=`` (default 0: all),
each with its wall-clock start, its duration until the instance was ready and the
instance's own CPU time over it (``null`` where it cannot be read). ``init_errors``
holds every distinct init error text once (its first occurrence; at most
``MAX_INIT_ERRORS``). ``exception_events`` holds the unhandled exceptions the app's instances
reported since ``?exceptions_since=`` (their own cursor; at most ``MAX_EXCEPTIONS`` are kept,
``exceptions`` counts them all): when the gateway heard of it, which instance, the type, the
first line of the message and the app's own frame (harness.apphost.exceptions).
Background counts come from app instances (harness.apphost.background):
``completed`` includes ``delayed`` (finished after a freeze and a thaw); ``lost`` is the work
still pending in an instance when it was killed or abandoned. A busy instance is one with a
request in flight or, through the control channel, work pending after its responses.

That JSON is a :class:`StatsDocument`, written and read through the one codec
(:mod:`harness.results.codec`); ``PlatformStats.from_dict`` reads it back strictly (the
platform collector): a missing key, an unknown key or a value of the wrong type is a
``ValueError`` naming the key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from harness.results.codec import DecodeError, decode, encode

PHASES = ("starting", "busy", "warm", "frozen", "zombie")
MAX_INIT_ERRORS = 20
MAX_EXCEPTIONS = 200_000


@dataclass(frozen=True)
class ColdStart:
    """One cold start: when it began, which instance, its wall time until ready, and the
    instance's own CPU over that time (None where the kernel's accounting cannot tell;
    harness.platform.task_cpu)."""

    t: float
    instance: str
    duration_ms: float
    cpu_ms: float | None = None


@dataclass(frozen=True)
class InitFailure:
    """An instance whose init failed: when it started, which one, the first error's text."""

    t: float
    instance: str
    error: str


@dataclass(frozen=True)
class RaisedException:
    """An unhandled exception an instance reported: when the gateway heard of it, which
    instance, its type, the first line of its message and the app's own frame."""

    t: float
    instance: str
    type: str
    message: str
    where: str


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
    exception_cursor: int = 0
    exceptions: list[RaisedException] = field(default_factory=list)  # since the cursor asked

    @property
    def instances(self) -> int:
        """Live instances: every phase but zombie."""
        return sum(self.phases[p] for p in PHASES if p != "zombie")

    def to_dict(self) -> dict[str, Any]:
        """The JSON of the stats endpoint (see the module doc)."""
        document = StatsDocument(
            t=self.t, starting=self.phases["starting"], busy=self.phases["busy"],
            warm=self.phases["warm"], frozen=self.phases["frozen"],
            zombie=self.phases["zombie"], instances=self.instances, queue=self.queue,
            **asdict(self.counters), background_pending=self.background_pending,
            cursor=self.cursor, cold_start_events=self.events, init_errors=self.init_errors,
            exception_cursor=self.exception_cursor, exception_events=self.exceptions)
        return dict(encode(document))

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> PlatformStats:
        """The stats of the endpoint's JSON; ValueError naming the key it does not expect."""
        try:
            d = decode(StatsDocument, doc, "platform stats")
        except DecodeError as exc:
            raise ValueError(_problem(exc, doc)) from None
        return cls(t=d.t, phases={p: getattr(d, p) for p in PHASES}, queue=d.queue,
                   counters=Counters(**{f.name: getattr(d, f.name) for f in fields(Counters)}),
                   cursor=d.cursor, events=d.cold_start_events,
                   background_pending=d.background_pending, init_errors=d.init_errors,
                   exception_cursor=d.exception_cursor, exceptions=d.exception_events)


@dataclass(frozen=True)
class StatsDocument:
    """The stats endpoint's JSON, key for key (flat: phases and counters side by side)."""

    t: float
    starting: int
    busy: int
    warm: int
    frozen: int
    zombie: int
    instances: int
    queue: int
    cold_starts: int
    reaped: int
    throttled: int
    recycled: int
    crashed: int
    timeouts: int
    failed_starts: int
    init_failures: int
    background_completed: int
    background_delayed: int
    background_lost: int
    exceptions: int
    background_pending: int
    cursor: int
    cold_start_events: list[ColdStart]
    init_errors: list[InitFailure]
    exception_cursor: int
    exception_events: list[RaisedException]


def _problem(exc: DecodeError, doc: dict[str, Any]) -> str:
    """The codec's finding as the stats reader words it (a key missing, unknown keys)."""
    if exc.expected == "no such key":
        known = {f.name for f in fields(StatsDocument)}
        return f"platform stats: unknown keys {sorted(set(doc) - known)}"
    if exc.got is None and exc.expected.endswith("(key missing)"):
        return f"platform stats: {exc.where}: missing"
    return str(exc)
