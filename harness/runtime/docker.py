"""The docker runtime (``--runtime docker``) behind the
:class:`~harness.runtime.base.ServiceRuntime` seam.

PostgreSQL, PgBouncer (or pgpool-II) and the persistent target run as containers of the images
that ``pgstampede images build`` makes from ``compose/``; the serverless platform's gateway
runs on the host and starts one container per instance (freeze = ``docker pause``); the
targets are assembled by ``harness.services.docker_targets``. Every container
is on the host network, bound to 127.0.0.1, started with ``init``, labelled with its run
(harness.runtime.docker_engine) and force-removed when its context exits — at the end, on
error and on Ctrl-C. Constructing the runtime checks, before anything starts, that an engine
answers and that every image exists and was built from this checkout's sources; otherwise an
InputError (exit 2) says what to run.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker

from harness.errors import InputError
from harness.runtime.docker_engine import (
    ImageRef,
    connect,
    find_image,
    labels,
    run_label,
    safe_name,
)
from harness.runtime.docker_services import (
    PgBouncerContainer,
    PgpoolContainer,
    PostgresContainer,
)
from harness.runtime.images import REPO, image_spec, source_hash
from harness.runtime.pgpool import PgpoolSettings

RUNTIME_ROLES = ("postgres", "pgbouncer", "persistent", "instance")
# [pooler.pgbouncer] image -> the image's role ("": the runtime's own, bookworm's); only
# bookworm's is needed by every run
PGBOUNCER_ROLES = {"": "pgbouncer", "bookworm": "pgbouncer", "trixie": "pgbouncer-trixie"}
OPTIONAL_ROLES = ("pgbouncer-trixie", "pgpool")


def checked_image(client: docker.DockerClient, role: str, root: Path = REPO) -> ImageRef:
    """The image of ``role``; InputError when it is missing or built from other sources."""
    spec = image_spec(role)
    ref = find_image(client, spec.tag)
    if ref.source != source_hash(spec, root):
        raise InputError(f"docker: image {spec.tag} was built from other sources than this "
                         "checkout: run `pgstampede images build`")
    return ref


def check_images(roles: set[str]) -> None:
    """InputError (exit 2) unless the images of ``roles`` exist, built from this checkout."""
    client = connect()
    try:
        for role in sorted(roles):
            checked_image(client, role)
    finally:
        client.close()


class DockerServices:
    """PostgreSQL, PgBouncer and pgpool-II as containers on 127.0.0.1 (host network)."""

    name = "docker"

    def __init__(self, client: docker.DockerClient | None = None, root: Path = REPO) -> None:
        self.client = client if client is not None else connect()
        self.session = uuid.uuid4().hex[:8]
        self.engine = self._engine()
        self.root = root
        self.images = {role: self._image(role, root) for role in RUNTIME_ROLES}
        for role in OPTIONAL_ROLES:  # recorded when built and current; needed only by some
            with contextlib.suppress(InputError):
                self.images[role] = self._image(role, root)

    def _engine(self) -> dict[str, str]:
        info = self.client.version()
        return {"version": str(info.get("Version", "")),
                "api_version": str(info.get("ApiVersion", ""))}

    def _image(self, role: str, root: Path) -> ImageRef:
        return checked_image(self.client, role, root)

    # ---- what the targets and services need ------------------------------------------------

    def image_id(self, role: str) -> str:
        """The image of ``role``; one outside RUNTIME_ROLES (pgbouncer-trixie) is checked the
        first time a variant needs it (registry.check_supported checked it up front)."""
        if role not in self.images:
            self.images[role] = self._image(role, self.root)
        return self.images[role].id

    def run_of_pid_dir(self, pid_dir: Path | None) -> str:
        return run_label(pid_dir, f"session-{self.session}")

    def labels(self, run: str, role: str) -> dict[str, str]:
        return labels(run, role, f"harness-{self.session}")

    def container_name(self, run: str, role: str) -> str:
        return f"pgstampede-{safe_name(run)}-{role}-{uuid.uuid4().hex[:6]}"

    # ---- the Runtime protocol --------------------------------------------------------------

    def postgres(self, *, max_connections: int, log_path: Path, keep: bool,
                 pid_dir: Path | None, settings: Mapping[str, str]) -> PostgresContainer:
        """``keep`` has no effect: the cluster lives in the container, which is removed."""
        run = self.run_of_pid_dir(pid_dir)
        return PostgresContainer(
            self.client, image=self.image_id("postgres"), name=self.container_name(run, "postgres"),
            labels=self.labels(run, "postgres"), max_connections=max_connections,
            log_path=log_path, settings=settings)

    def pgbouncer(self, *, upstream_port: int, log_path: Path, pool_mode: str,
                  pool_size: int, max_client_conn: int, query_wait_timeout_s: float | None,
                  pid_dir: Path | None, idle_timeouts_s: tuple[float, float] = (0.0, 600.0),
                  image: str = "bookworm") -> PgBouncerContainer:
        run = self.run_of_pid_dir(pid_dir)
        return PgBouncerContainer(
            self.client, image=self.image_id(PGBOUNCER_ROLES[image]),
            name=self.container_name(run, "pgbouncer"), labels=self.labels(run, "pgbouncer"),
            upstream_port=upstream_port, log_path=log_path, pool_mode=pool_mode,
            pool_size=pool_size, max_client_conn=max_client_conn,
            query_wait_timeout_s=query_wait_timeout_s, idle_timeouts_s=idle_timeouts_s)

    def pgpool(self, *, upstream_port: int, log_path: Path, settings: PgpoolSettings,
               pid_dir: Path | None) -> PgpoolContainer:
        run = self.run_of_pid_dir(pid_dir)
        return PgpoolContainer(
            self.client, image=self.image_id("pgpool"), name=self.container_name(run, "pgpool"),
            labels=self.labels(run, "pgpool"), upstream_port=upstream_port, log_path=log_path,
            settings=settings, pid_dir=pid_dir)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "engine": dict(self.engine),
            "gateway": "host process; serverless instances are containers",
            "images": {role: {"tag": ref.tag, "id": ref.id, "source": ref.source}
                       for role, ref in self.images.items()},
        }

    def close(self) -> None:
        """Release the engine connection (containers are removed by their contexts)."""
        self.client.close()
