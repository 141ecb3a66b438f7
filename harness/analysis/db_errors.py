"""What the database rejected: the server log's ERROR and FATAL lines, counted by SQLSTATE and
by message with its names and numbers taken out (pure).

``prepared statement "__asyncpg_stmt_2__" does not exist`` and ``... "__asyncpg_stmt_9__" ...``
are one message, ``prepared statement "…" does not exist``; ``bind message supplies 0
parameters, but prepared statement "__asyncpg_stmt_10__" requires 1`` becomes ``bind message
supplies N parameters, but prepared statement "…" requires N``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

CONDITIONS: dict[str, str] = {
    "08006": "connection_failure",
    "08P01": "protocol_violation",
    "0A000": "feature_not_supported",
    "22012": "division_by_zero",
    "22P02": "invalid_text_representation",
    "23502": "not_null_violation",
    "23503": "foreign_key_violation",
    "23505": "unique_violation",
    "25001": "active_sql_transaction",
    "25P02": "in_failed_sql_transaction",
    "26000": "invalid_sql_statement_name",
    "28000": "invalid_authorization_specification",
    "28P01": "invalid_password",
    "3D000": "invalid_catalog_name",
    "40001": "serialization_failure",
    "40P01": "deadlock_detected",
    "42501": "insufficient_privilege",
    "42601": "syntax_error",
    "42703": "undefined_column",
    "42883": "undefined_function",
    "42P01": "undefined_table",
    "42P05": "duplicate_prepared_statement",
    "53200": "out_of_memory",
    "53300": "too_many_connections",
    "55P03": "lock_not_available",
    "57014": "query_canceled",
    "57P01": "admin_shutdown",
    "57P02": "crash_shutdown",
    "57P03": "cannot_connect_now",
    "XX000": "internal_error",
}
"""SQLSTATE codes and their condition names (PostgreSQL, Appendix A), those an app meets."""

_QUOTED = re.compile(r'"[^"]*"')
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w.])")


def pattern(message: str) -> str:
    """``message`` with its quoted names and its numbers taken out."""
    return _NUMBER.sub("N", _QUOTED.sub('"…"', message)).strip()


def condition(sqlstate: str) -> str:
    """The condition name of a SQLSTATE (``26000`` -> ``invalid_sql_statement_name``)."""
    return CONDITIONS.get(sqlstate, "")


@dataclass(frozen=True)
class ErrorGroup:
    """One kind of rejection: its SQLSTATE, level, message pattern, how often and an example."""

    sqlstate: str
    level: str
    pattern: str
    count: int
    example: str

    @property
    def label(self) -> str:
        name = condition(self.sqlstate)
        code = f"SQLSTATE {self.sqlstate}" if self.sqlstate else "no SQLSTATE"
        return f"{code} ({name})" if name else code


def error_groups(db_errors: pd.DataFrame, start: float | None = None,
                 end: float | None = None) -> list[ErrorGroup]:
    """The errors in ``[start, end]`` grouped by SQLSTATE, level and pattern, most first."""
    rows = db_errors
    if start is not None:
        rows = rows[rows["t"] >= start]
    if end is not None:
        rows = rows[rows["t"] <= end]
    if rows.empty:
        return []
    keyed = rows.assign(pattern=rows["message"].map(pattern))
    groups = []
    for (sqlstate, level, text), group in keyed.groupby(["sqlstate", "level", "pattern"],
                                                        sort=False):
        groups.append(ErrorGroup(sqlstate=str(sqlstate), level=str(level), pattern=str(text),
                                 count=len(group), example=str(group["message"].iloc[0])))
    return sorted(groups, key=lambda g: (-g.count, g.sqlstate, g.pattern))


def before_final_stop(db_errors: pd.DataFrame, pglog: pd.DataFrame) -> pd.DataFrame:
    """The errors logged before the server's final stop: its last ``shutdown`` event with no
    ``server_ready`` after it (the harness stopping the server at the end of the variant run).
    What it logs from then on (``57P01`` for every backend still open, say) is the stop, not a
    rejection; a restart during the load (a fault) is followed by ``server_ready`` and its
    errors stay. A log read before this event existed has none: nothing is cut."""
    marks = pglog[pglog["event"].isin(("shutdown", "server_ready"))]
    if marks.empty or marks["event"].iloc[-1] != "shutdown":
        return db_errors
    return db_errors[db_errors["t"] < float(marks["t"].iloc[-1])]


def merge_groups(per_run: list[list[ErrorGroup]]) -> list[ErrorGroup]:
    """Groups of several repeats summed (the first example kept), most first."""
    merged: dict[tuple[str, str, str], ErrorGroup] = {}
    for groups in per_run:
        for g in groups:
            key = (g.sqlstate, g.level, g.pattern)
            old = merged.get(key)
            merged[key] = g if old is None else ErrorGroup(
                g.sqlstate, g.level, g.pattern, old.count + g.count, old.example)
    return sorted(merged.values(), key=lambda g: (-g.count, g.sqlstate, g.pattern))
