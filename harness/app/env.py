"""The app's environment: the variant's DSN in ``dsn_env`` and the ``env`` templates."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from harness.errors import InputError
from harness.scenario.records import AppSpec


def dsn_fields(dsn: str) -> dict[str, str]:
    """``{dsn} {host} {port} {user} {password} {database}`` of a ``postgresql://`` URL."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise InputError(f"app environment: expected a postgresql:// URL, got {dsn!r}")
    return {
        "dsn": dsn,
        "host": parts.hostname,
        "port": str(parts.port or 5432),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "database": unquote(parts.path.lstrip("/")),
    }


def app_environment(app: AppSpec, dsn: str) -> dict[str, str]:
    """The variables the app gets on top of the harness's environment: every ``dsn_env``
    name set to ``dsn`` (direct, or through the pooler), then ``env`` with its templates
    filled in (so ``env`` may redefine a ``dsn_env`` variable, e.g. with a driver prefix)."""
    fields = dsn_fields(dsn)
    out = {name: dsn for name in app.dsn_env}
    for name, template in app.env:
        out[name] = template.format(**fields)
    return out


_DROPPED = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PGSTAMPEDE_DSN")


def process_env(app: AppSpec, base: Mapping[str, str], extra: Mapping[str, str]
                ) -> dict[str, str]:
    """The whole environment of a process of the app (server, setup command, check): the
    harness's own ``base`` without its Python settings, the app interpreter's folder first
    on PATH (so a venv's ``alembic`` is found), then ``extra`` (e.g. app_environment)."""
    env = {k: v for k, v in base.items() if k not in _DROPPED}
    if app.python:
        folder = str(Path(app.python).parent)
        env["PATH"] = os.pathsep.join([folder, env.get("PATH", os.defpath)])
        env["VIRTUAL_ENV"] = str(Path(folder).parent) \
            if (Path(folder).parent / "pyvenv.cfg").exists() else ""
        if not env["VIRTUAL_ENV"]:
            del env["VIRTUAL_ENV"]
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def interpreter(app: AppSpec) -> str:
    """The app's Python: ``[app] python``, or the harness's own."""
    return app.python or sys.executable
