"""Passwords never reach a file: DSN passwords are masked in everything the harness writes."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?=@)", re.I)
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'[^']*'|\S+)", re.I)
_SECRET_NAME = re.compile(r"secret|passw|token|api_?key|private_?key|credential", re.I)


def is_secret_name(name: str) -> bool:
    """Whether a variable or key name says its value is a secret (``SECRET_KEY``,
    ``DB_PASSWORD``, ``GITHUB_TOKEN``...): such values are masked wherever they are written."""
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """``postgresql://u:secret@h/db`` → ``postgresql://u:***@h/db``; ``password=x`` → ``***``."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    return _KEYWORD_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with every string redacted, and the string value of a key
    that names a secret (:func:`is_secret_name`) masked."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: MASK if isinstance(v, str) and is_secret_name(str(k)) else redact(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
