"""The Docker engine as the harness sees it: connecting, labels, images, host pids, cleanup.

Every container the harness (or its gateway) creates carries three labels::

    pgstampede.run     the run folder's name (``reports/quickstart-20260101T000000Z`` ->
                       ``quickstart-20260101T000000Z``), or ``session-<id>`` outside a run
    pgstampede.role    postgres, pgbouncer, persistent, instance
    pgstampede.owner   the DockerRuntime (or gateway) that created it

so that a run removes exactly its own containers at its end, on error and on Ctrl-C, and
``pgstampede clean`` removes what a crashed run left (:func:`clean_containers`).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import psutil
from docker.errors import DockerException, ImageNotFound, NotFound

from harness.errors import InputError

LABEL_RUN = "pgstampede.run"
LABEL_ROLE = "pgstampede.role"
LABEL_OWNER = "pgstampede.owner"
LABEL_SOURCE = "pgstampede.source"
DEFAULT_ENGINE = "unix:///var/run/docker.sock"


def engine_address() -> str:
    """Where the Docker SDK looks for the engine (DOCKER_HOST, else the default socket)."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE


def _probe_unix(address: str) -> None:
    """Connect to a ``unix://`` engine socket once (the SDK leaks its socket when that fails)."""
    if not address.startswith("unix://"):
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5.0)
        sock.connect(address.removeprefix("unix://"))


def connect(timeout_s: float = 60.0, max_pool_size: int = 32) -> docker.DockerClient:
    """A client of a running engine; InputError (exit 2) with what to do when there is none."""
    address = engine_address()
    try:
        _probe_unix(address)
        client = docker.from_env(timeout=int(timeout_s), max_pool_size=max_pool_size)
    except (DockerException, OSError) as exc:
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"docker: no engine reachable at {address} ({cause[:120]}): "
                         "start dockerd, or use --runtime process") from None
    try:
        client.ping()
    except (DockerException, OSError) as exc:
        client.close()
        raise InputError(f"docker: the engine at {address} does not answer ({exc}): "
                         "start dockerd, or use --runtime process") from None
    return client


def safe_name(text: str) -> str:
    """``text`` as a container-name fragment ([a-zA-Z0-9_.-], at most 60 characters)."""
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-.") or "x"
    return cleaned[:60]


def run_label(pid_dir: Path | None, fallback: str) -> str:
    """The ``pgstampede.run`` label: the run folder's name (``<run>/.pids``), else ``fallback``."""
    if pid_dir is None:
        return fallback
    return safe_name(pid_dir.resolve().parent.name)


def labels(run: str, role: str, owner: str) -> dict[str, str]:
    return {LABEL_RUN: run, LABEL_ROLE: role, LABEL_OWNER: owner}


@dataclass(frozen=True)
class ImageRef:
    """An image the runtime uses: its tag, its id, and the hash of the sources it was built from."""

    tag: str
    id: str
    source: str


def find_image(client: docker.DockerClient, tag: str) -> ImageRef:
    """The image ``tag``; InputError naming the command that builds it when it is missing."""
    try:
        image = client.images.get(tag)
    except ImageNotFound:
        raise InputError(f"docker: image {tag} is missing: run `pgstampede images build` "
                         "(add --offline without a registry)") from None
    except DockerException as exc:
        raise InputError(f"docker: cannot inspect image {tag}: {exc}") from None
    image_labels: dict[str, str] = image.labels or {}
    return ImageRef(tag=tag, id=str(image.id), source=image_labels.get(LABEL_SOURCE, ""))


def host_pids(root: int) -> list[int]:
    """``root`` (a container's init, as the host sees it) and its live descendants."""
    if root <= 0:
        return []
    try:
        proc = psutil.Process(root)
        return [proc.pid] + [c.pid for c in proc.children(recursive=True)]
    except psutil.Error:
        return []


def container_pid(container: Any) -> int:
    """The host pid of a started container's init process (0 once it has stopped)."""
    container.reload()
    return int(container.attrs.get("State", {}).get("Pid") or 0)


def run_names(folders: Iterable[Path]) -> set[str]:
    """The run labels of ``folders``: each run folder's name, or its subfolders' when it holds
    runs (``reports/``)."""
    names: set[str] = set()
    for folder in folders:
        if (folder / "manifest.json").exists() or (folder / ".pids").is_dir():
            names.add(safe_name(folder.resolve().name))
        elif folder.is_dir():
            names.update(safe_name(sub.name) for sub in folder.iterdir() if sub.is_dir())
        else:
            names.add(safe_name(folder.name))
    return names


def labelled(client: docker.DockerClient, filters: dict[str, str]) -> list[dict[str, Any]]:
    """The containers (running or not) matching the label ``filters``, as the engine lists
    them (``Id``, ``Names``, ``State``, ``Labels``...): one call, no inspect of each (a
    container removed meanwhile is no error)."""
    found: list[dict[str, Any]] = client.api.containers(
        all=True, filters={"label": _label_filter(filters)})
    return found


def summary_name(summary: dict[str, Any]) -> str:
    names = summary.get("Names") or [summary.get("Id", "")[:12]]
    return str(names[0]).lstrip("/")


def remove_labelled(client: docker.DockerClient, filters: dict[str, str]) -> list[str]:
    """Force-remove every container matching the label ``filters``; their names."""
    removed = []
    for summary in labelled(client, filters):
        try:
            client.api.remove_container(summary["Id"], force=True)
        except DockerException:  # gone meanwhile, or being removed already
            continue
        removed.append(summary_name(summary))
    return removed


def _label_filter(filters: dict[str, str]) -> list[str]:
    return [key if value == "" else f"{key}={value}" for key, value in filters.items()]


def clean_containers(folders: Iterable[Path] | None = None) -> list[str]:
    """``pgstampede clean``: remove the containers of the runs in ``folders`` (every pgstampede
    container when None); one line per action. Without an engine there is nothing to clean."""
    try:
        client = connect(timeout_s=15.0)
    except InputError:
        return [f"docker: no engine reachable at {engine_address()}: no containers to remove"]
    wanted = None if folders is None else run_names(folders)
    try:
        return _remove_runs(client, wanted) or ["no pgstampede containers left"]
    finally:
        client.close()


def _remove_runs(client: docker.DockerClient, wanted: set[str] | None) -> list[str]:
    lines = []
    for summary in labelled(client, {LABEL_RUN: ""}):
        found: dict[str, str] = summary.get("Labels") or {}
        run, name = found.get(LABEL_RUN, ""), summary_name(summary)
        if wanted is not None and run not in wanted:
            continue
        try:
            client.api.remove_container(summary["Id"], force=True)
        except NotFound:
            continue
        except DockerException as exc:
            lines.append(f"could not remove container {name}: {exc}")
            continue
        lines.append(f"removed container {name} ({found.get(LABEL_ROLE, '?')}) of run {run}")
    return lines
