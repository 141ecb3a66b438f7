"""The seams of a variant run: what it talks to, injected so that a whole run can be tested
with fakes (no processes): the runtime (``harness.services.runtimes.Runtime``), the load
runner, the collectors factory and the background-job reader.

:func:`default_seams` wires the real ones: Locust, the standard collectors, psycopg.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd
import psycopg

from harness.collect.base import Collector
from harness.errors import MeasurementError
from harness.load.runner import LocustProgress, read_request_logs, run_locust
from harness.results.redact import redact_text
from harness.scenario import LoadSpec
from harness.services.bring_up import Services
from harness.services.collectors import standard_collectors
from harness.services.runtimes import Runtime

BACKGROUND_SQL = """
SELECT id, coalesce(instance, '') AS instance, extract(epoch FROM scheduled_at)::float8,
       extract(epoch FROM due_at)::float8, extract(epoch FROM completed_at)::float8
FROM background_jobs ORDER BY id
"""


class LoadWindow(Protocol):
    """What a load run reports back: when the load shape started and ended (epoch s,
    NaN when it never did)."""

    @property
    def load_start(self) -> float: ...

    @property
    def load_end(self) -> float: ...

    @property
    def problems(self) -> tuple[str, ...]:
        """Why the load fell short of its plan (a distributed worker lost); empty if whole."""
        ...


class LoadRunner(Protocol):
    """Drives the load against ``host`` and leaves its request logs in ``out_dir``."""

    async def run(self, load: LoadSpec, *, host: str, out_dir: Path, log_path: Path,
                  on_progress: Callable[[LocustProgress], None]) -> LoadWindow: ...

    def requests(self, out_dir: Path) -> pd.DataFrame:
        """The ``requests`` frame of what ``run`` sent."""
        ...

    def frames(self, out_dir: Path) -> dict[str, pd.DataFrame]:
        """Other frames of the load (distributed: ``workers``); none for a local Locust."""
        ...


CollectorsFactory = Callable[[Services], Sequence[Collector]]
BackgroundReader = Callable[[str], pd.DataFrame]
"""Reads the background_jobs table through a DSN; MeasurementError when it cannot."""


class LocustRunner:
    """The real load runner: Locust in its own process group (harness.load.runner)."""

    async def run(self, load: LoadSpec, *, host: str, out_dir: Path, log_path: Path,
                  on_progress: Callable[[LocustProgress], None]) -> LoadWindow:
        return await run_locust(load, host=host, out_dir=out_dir, log_path=log_path,
                                on_progress=on_progress)

    def requests(self, out_dir: Path) -> pd.DataFrame:
        return read_request_logs(out_dir)

    def frames(self, out_dir: Path) -> dict[str, pd.DataFrame]:
        return {}


def read_background(dsn: str) -> pd.DataFrame:
    """The background_jobs rows as the ``background`` frame."""
    cols = ["id", "instance", "scheduled_at", "due_at", "completed_at"]
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            rows = conn.execute(BACKGROUND_SQL).fetchall()
    except psycopg.Error as exc:
        raise MeasurementError(f"cannot read background_jobs: "
                               f"{redact_text(str(exc).strip())}") from None
    frame = pd.DataFrame(rows, columns=cols)
    return frame.astype({"id": "int64", "instance": "str", "scheduled_at": "float64",
                         "due_at": "float64", "completed_at": "float64"})


@dataclass(frozen=True)
class Seams:
    runtime: Runtime
    load: LoadRunner
    collectors: CollectorsFactory
    background: BackgroundReader


def default_seams(runtime: Runtime) -> Seams:
    """The real seams around ``runtime``."""
    return Seams(runtime=runtime, load=LocustRunner(),
                 collectors=lambda services: standard_collectors(services),
                 background=read_background)
