"""What the run was measured on: versions and machine, for the manifest.

The machine's identity (``machine_id``) decides whether a baseline's timings can be compared
with a run's (:mod:`harness.check.comparable`). Two VMs cloned from one image share their CPU
model, core count, hostname and ``/etc/machine-id``, so none of those tells them apart. By
default the identity is this boot of this machine (the kernel's random ``boot_id``): a reboot,
or another VM, is another machine. A dedicated runner names itself (``--machine-id NAME`` or
``PGSTAMPEDE_MACHINE_ID``) to keep comparing across reboots.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
from pathlib import Path
from typing import Any

import psutil

PACKAGES = ("pgstampede", "locust", "asyncpg", "psycopg", "pandas", "uvicorn", "starlette")
MACHINE_ID_ENV = "PGSTAMPEDE_MACHINE_ID"
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
CPUINFO = Path("/proc/cpuinfo")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = ""
    return out


def machine(machine_id: str | None = None) -> dict[str, Any]:
    """The machine as the manifest records it; ``machine_id`` names it (else: this boot)."""
    named = bool(machine_id)
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cores": os.cpu_count() or 1,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "machine_id": machine_id if named else boot_identity(),
        "machine_id_source": "named" if named else "boot",
    }


def boot_identity() -> str:
    """``boot:<boot_id>``: unique per boot of a machine, so per VM (empty when unknown)."""
    try:
        return "boot:" + BOOT_ID.read_text(encoding="ascii").strip()
    except OSError:
        return ""


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    """The first ``model name`` of /proc/cpuinfo, else the platform's processor string."""
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() in ("model name", "Model", "cpu model"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
