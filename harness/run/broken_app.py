"""A broken app fails: a serverless variant in which no instance completed its init.

Every request of such a variant is answered 502 by the platform: nothing of the app was
measured. The variant run then ends ``failed`` (exit 3) with the app's first error, instead
of ``complete`` with a 100% error rate that passes a run without thresholds. Some instances
failing their init while others serve (refusals while opening a pool, say) is a measurement
and stays one (``platform.init_failures``).
"""

from __future__ import annotations

import pandas as pd


def no_instance_ready(platform: pd.DataFrame | None) -> tuple[int, str] | None:
    """``(init failures, the first error)`` when instances were started and none of them
    completed its init (the gateway's cumulative counts, the ``platform`` frame); else None."""
    if platform is None or platform.empty:
        return None
    if int(platform["cold_starts"].max()) > 0:
        return None
    failures = int(platform["init_failures"].max())
    if failures <= 0:
        return None
    first = next((str(e) for e in platform["init_error"] if str(e)), "")
    return failures, first or "no error text"


def failure_text(app: str, failures: int, first: str, log: str) -> str:
    """The variant's error: the app, what happened, its first error and the log to read."""
    tried = "the only instance" if failures == 1 else f"all {failures} instances"
    return (f"app {app}: no instance completed its init ({tried} failed); the first error: "
            f"{first} (see its log: {log})")
