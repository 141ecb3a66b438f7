"""The docker runtime's parts that need no engine: images kept equal to the process runtime,
build contexts and source hashes, labels, the spawner's freeze/thaw bookkeeping, and the
one-line errors when the engine or an image is missing."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from docker.errors import APIError, ImageNotFound

from harness.errors import InputError
from harness.platform.config import PlatformConfig
from harness.platform.docker_spawner import DockerSpawner, _Container
from harness.runtime.docker_engine import clean_containers, run_names, safe_name
from harness.runtime.images import (
    REPO,
    build_context,
    context_files,
    debian_mirror,
    image_spec,
    source_hash,
)
from harness.runtime.pgbouncer import PgBouncer
from harness.runtime.postgres import APP_DB, APP_ROLE, SCHEMA_SQL, PostgresCluster, server_settings
from harness.services.docker_targets import DockerRuntime

pytestmark = pytest.mark.docker

NO_ENGINE = "unix:///nonexistent/docker.sock"


def test_postgres_image_has_the_runtime_schema() -> None:
    """One copy of the schema: the image runs the process runtime's own schema.sql."""
    text = (REPO / "compose/postgres/init.sql").read_text()
    assert text.rstrip().endswith("\\ir schema.sql")
    dockerfile = (REPO / "compose/postgres/Dockerfile").read_text()
    assert "harness/runtime/schema.sql" in dockerfile
    assert (REPO / "harness/runtime/schema.sql").read_text() == SCHEMA_SQL
    assert f"CREATE ROLE {APP_ROLE} LOGIN;" in text
    assert f"CREATE DATABASE {APP_DB} OWNER {APP_ROLE};" in text


def test_postgres_settings_are_the_process_runtime_settings(tmp_path: Path) -> None:
    extra = {"work_mem": "8MB", "fsync": "on"}
    cluster = PostgresCluster(max_connections=33, log_path=tmp_path / "pg.log", settings=extra)
    assert server_settings(33, extra) == cluster.server_settings()


def test_postgres_entrypoint_defaults_are_the_runtime_settings() -> None:
    script = (REPO / "compose/postgres/entrypoint.sh").read_text().replace("\\\n", " ")
    line = next(ln for ln in script.splitlines() if ln.startswith("exec postgres"))
    words = shlex.split(line)
    options = dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "-c")
    expected = server_settings(100, {})
    del expected["max_connections"]
    assert options == expected


def test_pgbouncer_entrypoint_writes_the_runtime_config(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "PGBOUNCER_PRINT_CONFIG": "1",
           "PGBOUNCER_CONF_DIR": str(tmp_path), "PGBOUNCER_PORT": "21000",
           "UPSTREAM_PORT": "21001", "POOL_MODE": "session", "POOL_SIZE": "7",
           "MAX_CLIENT_CONN": "300", "QUERY_WAIT_TIMEOUT": "5"}
    out = subprocess.run(["sh", str(REPO / "compose/pgbouncer/entrypoint.sh")], env=env,
                         capture_output=True, text=True, check=True).stdout
    bouncer = PgBouncer(upstream_port=21001, log_path=tmp_path / "pgb.log", pool_mode="session",
                        pool_size=7, max_client_conn=300, query_wait_timeout_s=5.0, port=21000)
    bouncer.confdir = tmp_path
    assert out == bouncer.config_text()


def test_build_context_holds_the_sources_and_nothing_else(tmp_path: Path) -> None:
    ca = tmp_path / "proxy.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    spec = image_spec("instance")
    with tarfile.open(fileobj=build_context(spec, cas=[ca])) as tar:
        names = set(tar.getnames())
    assert {"compose/instance/Dockerfile", "compose/python-requirements.txt",
            "harness/platform/container_instance.py", "harness/platform/instance.py",
            "targets/serverless/handler.py", "compose/certs/local-0-proxy.crt"} <= names
    assert not [n for n in names if "__pycache__" in n or n.startswith((".venv", "reports"))]
    assert "harness/cli.py" not in names
    assert names - {"compose/certs/local-0-proxy.crt"} == set(context_files(spec))


def test_source_hash_follows_the_sources(tmp_path: Path) -> None:
    spec = image_spec("persistent")
    for rel in context_files(spec):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, tmp_path / rel)
    assert source_hash(spec, tmp_path) == source_hash(spec, REPO)
    with open(tmp_path / "targets/shared/endpoints.py", "a") as fh:
        fh.write("# changed\n")
    assert source_hash(spec, tmp_path) != source_hash(spec, REPO)


def test_images_need_a_checkout(tmp_path: Path) -> None:
    """An installed wheel has no compose/: one line saying where the images come from."""
    with pytest.raises(InputError, match=r"^images: no compose/ folder in .*: the docker images "
                       r"are built from a pgstampede checkout \(git clone\)"):
        source_hash(image_spec("postgres"), tmp_path)


def test_debian_mirror_from_apt_sources(tmp_path: Path) -> None:
    (tmp_path / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\n")
    assert debian_mirror((tmp_path,)) == "http://mirror.example/debian"
    listed = tmp_path / "sources.list"
    listed.write_text("deb [arch=amd64] http://other.example/debian bookworm main\n")
    assert debian_mirror((listed,)) == "http://other.example/debian"
    assert debian_mirror((tmp_path / "none",)) == "http://deb.debian.org/debian"


def test_run_labels_name_run_folders(tmp_path: Path) -> None:
    run = tmp_path / "quickstart-20260101T000000Z"
    (run / ".pids").mkdir(parents=True)
    assert run_names([run]) == {"quickstart-20260101T000000Z"}
    assert run_names([tmp_path]) == {"quickstart-20260101T000000Z"}
    assert safe_name("a b/c+d") == "a-b-c-d"


def test_no_engine_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    with pytest.raises(InputError) as err:
        DockerRuntime()
    message = str(err.value)
    assert f"no engine reachable at {NO_ENGINE}" in message
    assert message.endswith("start dockerd, or use --runtime process") and "\n" not in message
    assert clean_containers() == [
        f"docker: no engine reachable at {NO_ENGINE}: no containers to remove"]


def test_cli_fails_early_without_an_engine(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "harness", "run", "quickstart", "--runtime", "docker", "--out",
         str(out), "--quiet"], capture_output=True, text=True, cwd=REPO, timeout=120,
        env={**os.environ, "DOCKER_HOST": NO_ENGINE})
    assert result.returncode == 2, result.stderr
    assert "start dockerd, or use --runtime process" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


class _Images:
    def __init__(self, labels: dict[str, str] | None) -> None:
        self.labels = labels

    def get(self, tag: str) -> Any:
        if self.labels is None:
            raise ImageNotFound(f"no such image: {tag}")
        return type("Image", (), {"id": "sha256:0", "labels": self.labels})()


class _Client:
    def __init__(self, labels: dict[str, str] | None) -> None:
        self.images = _Images(labels)

    def version(self) -> dict[str, str]:
        return {"Version": "20.10", "ApiVersion": "1.41"}


def test_missing_or_stale_image_says_what_to_run() -> None:
    with pytest.raises(InputError, match=r"image pgstampede/postgres:latest is missing: run "
                       r"`pgstampede images build`"):
        DockerRuntime(_Client(None))
    with pytest.raises(InputError, match=r"built from other sources than this checkout: run "
                       r"`pgstampede images build`"):
        DockerRuntime(_Client({"pgstampede.source": "0000"}))


class _Api:
    """The engine calls the spawner makes, recorded; ``fail_pauses`` pauses fail first."""

    def __init__(self, fail_pauses: int = 0) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_pauses = fail_pauses

    def pause(self, cid: str) -> None:
        self.calls.append(("pause", cid))
        if self.fail_pauses:
            self.fail_pauses -= 1
            raise APIError("OCI runtime pause failed: unable to freeze")

    def unpause(self, cid: str) -> None:
        self.calls.append(("unpause", cid))

    def remove_container(self, cid: str, force: bool) -> None:
        self.calls.append(("remove", cid))

    def containers(self, all: bool, filters: dict[str, str]) -> list[dict[str, str]]:
        self.calls.append(("list", filters["label"]))
        return [{"Id": "c9"}]


async def _settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0.01)


def _spawner(tmp_path: Path, api: _Api) -> DockerSpawner:
    spawner = DockerSpawner(PlatformConfig(spawner="docker", run_label="r1"), tmp_path,
                            client_factory=lambda: api)
    spawner.api = api
    spawner.by_pid[42] = _Container(id="c1", name="i1")
    return spawner


def test_spawner_pauses_unpauses_and_removes_in_order(tmp_path: Path) -> None:
    api = _Api()
    spawner = _spawner(tmp_path, api)

    async def scenario() -> None:
        spawner.send_signal(42, signal.SIGSTOP)
        spawner.send_signal(42, signal.SIGCONT)  # before the pause ran: neither happens
        await _settle()
        assert api.calls == []
        spawner.send_signal(42, signal.SIGSTOP)
        await _settle()
        spawner.send_signal(42, signal.SIGCONT)
        await _settle()
        assert api.calls == [("pause", "c1"), ("unpause", "c1")]
        spawner.send_signal(42, signal.SIGSTOP)
        spawner.send_signal(42, signal.SIGKILL)  # removal wins over a pending pause
        await _settle()
        assert api.calls[2:] == [("remove", "c1")]
        assert 42 not in spawner.by_pid

    asyncio.run(scenario())
    spawner.close()
    spawner.close()
    assert api.calls[3:] == [("list", f"pgstampede.owner={spawner.owner}"), ("remove", "c9")]
    assert spawner.labels() == {"pgstampede.run": "r1", "pgstampede.role": "instance",
                                "pgstampede.owner": spawner.owner}


def test_spawner_retries_a_failed_pause(tmp_path: Path) -> None:
    api = _Api(fail_pauses=1)
    spawner = _spawner(tmp_path, api)

    async def scenario() -> None:
        spawner.send_signal(42, signal.SIGSTOP)
        await _settle()

    asyncio.run(scenario())
    assert api.calls == [("pause", "c1"), ("pause", "c1")]
    assert spawner.by_pid[42].paused
    spawner.executor.shutdown()
