"""The app's own error, from its log: the last exception line and where it was raised."""

from __future__ import annotations

import os
import re
from pathlib import Path

_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)|[A-Z]\w*Error)"
                        r"\b(:.*)?$")
_FRAME = re.compile(r'^File "(?P<file>[^"]+)", line (?P<line>\d+)')


def error_tail(log_path: Path, fallback_lines: int = 3, root: str = "") -> str:
    """``ExcType: message (file:line)`` of the last traceback in the log, else its last
    lines joined with `` | ``; "" when the log is empty or missing. ``file:line`` is the
    app's own frame when ``root`` is given: the nearest before the exception in a file below
    it and not in an installed package (``<frozen os>``, where ``os.environ[...]`` raises,
    is not the app's line); else the nearest frame."""
    try:
        lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [ln for ln in lines if ln]
    for i in range(len(lines) - 1, -1, -1):
        if _EXCEPTION.match(lines[i]):
            frames = [m for ln in reversed(lines[:i]) if (m := _FRAME.match(ln))]
            own = [m for m in frames if _is_app_file(m["file"], root)] if root else []
            chosen = own or frames
            at = f" ({chosen[0]['file']}:{chosen[0]['line']})" if chosen else ""
            return f"{lines[i]}{at}"
    return " | ".join(lines[-fallback_lines:])


def _is_app_file(path: str, root: str) -> bool:
    base = os.path.realpath(root)
    real = os.path.realpath(path)
    parts = real.split(os.sep)
    return real.startswith(base + os.sep) and not any(
        p in ("site-packages", "dist-packages") for p in parts)
