"""``limit.json``: how ``pgstampede limit`` searched for each variant's breaking point.

A limit run folder is a normal run folder (manifest, frames, summary, report) whose variant
runs are *probes*: repeat 1 of a variant is its ramp (stair steps of users), the next
repeats the bisection probes around the break (one constant load each), and with
``--verify`` a last probe at the recommended setting. ``limit.json`` records the search as
it was decided while it ran: the settings, each probe's steps with their verdicts, and what
the variant's database allowed. The analysis (:mod:`harness.analysis.limit`) reads it with
the frames to compute the ``limit.*`` metrics, so ``report`` and ``check`` rebuild them from
the folder alone.

Written and read through the one codec (:mod:`harness.results.codec`), strictly.
History of ``LIMIT_VERSION``: 1: first version.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.errors import IncompleteRunError, InputError
from harness.results import metric_names as M
from harness.results import store
from harness.results.codec import encode, loads

LIMIT_FILE = "limit.json"
LIMIT_VERSION = 1
LIMIT_METRICS_PREFIX = M.LIMIT_USERS.split(".", 1)[0] + "."
"""The ``limit.*`` metrics: computed once per variant from the whole search
(:mod:`harness.analysis.limit`), never per variant run."""

Until = Literal["refused", "errors", "p95"]
"""What breaks a step: ``refused`` (any refusal, or the error budget spent), ``errors`` (the
error budget spent), ``p95`` (the p95 target missed, or the error budget spent)."""
StepVerdict = Literal["held", "broke"]
ProbeKind = Literal["ramp", "bisect", "verify"]
BreakReason = Literal["", "refused", "errors", "p95"]


@dataclass(frozen=True)
class LimitSettings:
    """The search's settings as run (``[limit]`` and the command line resolved)."""

    until: Until
    error_budget: float  # ratio of failed requests a step may have (0.01 = 1%)
    p95_ms: float | None  # the p95 target (``until = "p95"``)
    max_users: int
    step: int  # users added per ramp step
    step_duration_s: float  # how long each step holds its users (after they spawned)
    spawn_rate: float  # users started per second
    verify: bool
    headroom: str  # connections left free: "10%" of the limit, or a count ("3")
    p95_noise: float  # relative: a p95 this close to its target is too close to call


@dataclass(frozen=True)
class StepRecord:
    """One step of a probe: its users, its window (epoch s), and what was decided.

    ``settled`` is when its users had all spawned (errors and p95 are judged from then on;
    a refusal counts anywhere in the step); ``end`` is the step's end (or the load's, when
    it ended first). ``broke_at`` is when the step was seen to break: its first refusal, or
    its end for the other reasons (None when it held). ``clear`` says whether the measure
    was far enough from its limit, for this machine's noise, to decide (docs/limit.md).
    """

    users: int
    start: float
    settled: float
    end: float
    verdict: StepVerdict
    reason: BreakReason
    detail: str
    clear: bool
    broke_at: float | None = None


@dataclass(frozen=True)
class ProbeRecord:
    """One probe: a variant run (``repeat`` of the variant) and its steps."""

    repeat: int
    kind: ProbeKind
    steps: tuple[StepRecord, ...]
    max_instances: int | None = None  # verify: the max instances it ran with

    @property
    def broke(self) -> StepRecord | None:
        """The step that broke, if one did."""
        return next((s for s in self.steps if s.verdict == "broke"), None)


@dataclass(frozen=True)
class VariantLimit:
    """The search of one variant.

    ``held_users``: the most users that held (0 when the first step broke); ``broke_users``:
    the fewest users that broke (None when it held up to ``max_users``). ``reserved``: the
    connection slots of ``max_connections`` the app role cannot use
    (superuser_reserved_connections + reserved_connections). ``stopped``: why the refinement
    stopped.
    """

    name: str
    reserved: int
    probes: tuple[ProbeRecord, ...]
    held_users: int
    broke_users: int | None
    stopped: str

    def probe(self, kind: ProbeKind) -> ProbeRecord | None:
        return next((p for p in self.probes if p.kind == kind), None)


@dataclass(frozen=True)
class LimitRecord:
    limit_version: int
    settings: LimitSettings
    variants: tuple[VariantLimit, ...]

    def variant(self, name: str) -> VariantLimit | None:
        return next((v for v in self.variants if v.name == name), None)


def parse_headroom(value: object) -> str:
    """``headroom`` as written (``"10%"`` of the limit, or a number of connections) in its
    canonical text; ValueError saying what was expected."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            try:
                share = float(text[:-1])
            except ValueError:
                share = -1.0
            if 0 <= share < 100:
                return f"{share:g}%"
        elif text.isdigit():
            return str(int(text))
    raise ValueError(f"expected a number of connections (e.g. 3) or a share of the limit "
                     f"below 100% (e.g. \"10%\"), got {value!r}")


def headroom_of(headroom: str, limit: int) -> int:
    """The connections left free under ``limit``: a share rounded up (at least 1 when the
    share is not 0), or the count as written."""
    if headroom.endswith("%"):
        share = float(headroom[:-1]) / 100.0
        return 0 if share == 0 or limit <= 0 else max(1, math.ceil(limit * share - 1e-9))
    return int(headroom)


def write_limit(run_dir: Path, record: LimitRecord) -> None:
    store.write_json(run_dir / LIMIT_FILE, encode(record))


def read_limit(run_dir: Path) -> LimitRecord | None:
    """The folder's ``limit.json``; None for a folder made by ``run`` (it has none)."""
    path = Path(run_dir) / LIMIT_FILE
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IncompleteRunError(f"{path}: unreadable ({exc})") from None
    record = loads(LimitRecord, text, str(path))
    if record.limit_version != LIMIT_VERSION:
        raise InputError(f"{path}: limit_version {record.limit_version}; this pgstampede reads "
                         f"version {LIMIT_VERSION}")
    return record
