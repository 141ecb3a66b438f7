"""Prepared statements by PgBouncer version, under --runtime docker: the persistent target
keeps asyncpg's default statement cache behind transaction mode. Debian bookworm's PgBouncer
1.18 (pgstampede/pgbouncer) fails the named statements (db_other); trixie's 1.24
(pgstampede/pgbouncer-trixie, max_prepared_statements set) serves them. The summary records
each variant's pooler version."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from harness.errors import InputError
from harness.runtime.docker import PGBOUNCER_ROLES, check_images
from harness.runtime.images import image_spec
from tests.integration.docker.helpers import run_containers
from tests.integration.pipeline_helpers import metrics, new_mark, read_json, run_cli, write_scenario

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.usefixtures("images_ready")]

# harness/scenarios/pgbouncer_versions.toml, shortened
SCENARIO = """
name = "pgbouncer-versions-docker"
[database]
max_connections = 20
[load]
think_time = "0s"
endpoints = { read = 1 }
stages = [{ duration = "4s", users = 8, spawn_rate = 20 }]
[target.persistent]
pool_min = 2
pool_max = 8
prepared_statement_fix = false
[pooler.pgbouncer]
pool_mode = "transaction"
pool_size = 3
[[variants]]
name = "pgbouncer-1.18"
target = "persistent"
pooler = "pgbouncer"
[[variants]]
name = "pgbouncer-1.24"
target = "persistent"
pooler = "pgbouncer"
pooler_overrides = { image = "trixie" }
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
            ) -> Path:
    try:
        check_images({PGBOUNCER_ROLES["trixie"]})
    except InputError as exc:
        pytest.skip(f"{exc} (on CI: .ci/docker-setup.sh)")
    folder = tmp_path_factory.mktemp("pgbouncer-versions")
    out = folder / "versions-run"
    result = run_cli("run", str(write_scenario(folder, SCENARIO)), "--out", str(out),
                     "--runtime", "docker", "--quiet", mark=new_mark())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert run_containers(docker_client, out.name) == {}
    return out


def test_pgbouncer_1_24_serves_asyncpg_statement_cache_in_transaction_mode(
        run_dir: Path) -> None:
    m = metrics(run_dir, "pgbouncer-1.24")
    assert m["http.requests"] > 0
    assert m["errors.db_other"] == 0


def test_pgbouncer_1_18_fails_it(run_dir: Path) -> None:
    m = metrics(run_dir, "pgbouncer-1.18")
    assert m["errors.db_other"] > 0


def test_summary_records_each_pooler_version(run_dir: Path) -> None:
    variants = read_json(run_dir / "summary.json")["variants"]
    assert variants["pgbouncer-1.18"]["pooler_version"].startswith("1.18")
    assert variants["pgbouncer-1.24"]["pooler_version"].startswith("1.24")


@pytest.mark.parametrize(("image", "line"), [("trixie", "max_prepared_statements = 200"),
                                             ("bookworm", None)])
def test_entrypoint_sets_max_prepared_statements_from_1_21(
        docker_client: docker.DockerClient, image: str, line: str | None) -> None:
    try:
        check_images({PGBOUNCER_ROLES[image]})
    except InputError as exc:
        pytest.skip(str(exc))
    tag = image_spec(PGBOUNCER_ROLES[image]).tag
    out = docker_client.containers.run(tag, remove=True, network_mode="none",
                                       environment={"PGBOUNCER_PRINT_CONFIG": "1"})
    prepared = [x for x in out.decode().splitlines() if x.startswith("max_prepared_statements")]
    assert prepared == ([line] if line else [])
