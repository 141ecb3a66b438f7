"""What the run was measured on: versions and machine, for the manifest."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
from typing import Any

import psutil

PACKAGES = ("pgstampede", "locust", "asyncpg", "psycopg", "pandas", "uvicorn", "starlette")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = ""
    return out


def machine() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cores": os.cpu_count() or 1,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
    }
