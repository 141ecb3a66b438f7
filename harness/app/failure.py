"""The app's own error, from its log: the last exception line and where it was raised."""

from __future__ import annotations

import re
from pathlib import Path

_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)|[A-Z]\w*Error)"
                        r"\b(:.*)?$")
_FRAME = re.compile(r'^File "(?P<file>[^"]+)", line (?P<line>\d+)')


def error_tail(log_path: Path, fallback_lines: int = 3) -> str:
    """``ExcType: message (file:line)`` of the last traceback in the log, else its last
    lines joined with `` | ``; "" when the log is empty or missing."""
    try:
        lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [ln for ln in lines if ln]
    for i in range(len(lines) - 1, -1, -1):
        if _EXCEPTION.match(lines[i]):
            where = next((m for ln in reversed(lines[:i]) if (m := _FRAME.match(ln))), None)
            at = f" ({where['file']}:{where['line']})" if where else ""
            return f"{lines[i]}{at}"
    return " | ".join(lines[-fallback_lines:])
