"""The table of published realtime messages, read once the load is over (``/publish``)."""

from __future__ import annotations

import pandas as pd
import psycopg

from harness.errors import MeasurementError
from harness.results.frames import coerce_frame
from harness.results.redact import redact_text

PUBLISHED_SQL = ("SELECT id, extract(epoch FROM published_at)::float8 "
                 "FROM realtime_messages ORDER BY id")


def read_published(dsn: str) -> pd.DataFrame:
    """The ``realtime_published`` frame; MeasurementError when the table cannot be read."""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            rows = conn.execute(PUBLISHED_SQL).fetchall()
    except psycopg.Error as exc:
        raise MeasurementError(f"cannot read realtime_messages: "
                               f"{redact_text(str(exc).strip())}") from None
    return coerce_frame("realtime_published",
                        pd.DataFrame(rows, columns=["id", "published_at"]))
