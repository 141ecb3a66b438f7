"""The messages of the distributed-load control channel (:mod:`harness.load.coordinator`).

Each JSON body is one of these records, written with :func:`harness.results.codec.encode` and
read with :func:`harness.results.codec.decode` (``defaults=True``: a key a worker or master of
another version leaves out takes its default), so a body that does not hold what is expected
is an error naming who sent it and the field.

- ``GET /v1/poll`` answers a :data:`PollReply`: :class:`Wait`, :class:`RunOver` or a
  :class:`VariantOffer` (the plan is the ``LoadConfig`` JSON of the master's run);
- ``POST /v1/beat/ID/NAME`` sends a :class:`Beat`, ``POST /v1/done/ID/NAME`` a
  :class:`DoneReport`; both are answered with an :class:`Ack` (or a :class:`Refusal`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

CpuSample = tuple[float, float, float, float]
"""t, host CPU % (all cores), Locust CPU % and Locust run-queue wait % (of a core)."""


@dataclass(frozen=True)
class Wait:
    """No variant for this worker now: poll again."""

    state: Literal["wait"] = "wait"


@dataclass(frozen=True)
class RunOver:
    """The run is over."""

    state: Literal["done"] = "done"


@dataclass(frozen=True, kw_only=True)
class VariantOffer:
    """A variant to run: its id, the master's Locust port and the load plan."""

    state: Literal["variant"] = "variant"
    id: int
    locust_port: int
    plan: dict[str, Any]


PollReply = Wait | RunOver | VariantOffer


@dataclass(frozen=True)
class Beat:
    """While its Locust worker runs: the host's CPU samples since the last beat."""

    cpu: tuple[CpuSample, ...] = ()


@dataclass(frozen=True)
class DoneReport:
    """The worker is done with the variant: its Locust's exit code and logs uploaded."""

    locust_rc: int | None = None
    files: int = 0


@dataclass(frozen=True)
class Ack:
    ok: bool


@dataclass(frozen=True)
class Refusal:
    error: str
