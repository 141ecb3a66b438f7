"""The quickstart's four variants on Docker show what they show on processes: serverless
direct is refused, the pooled variants are not; the run folder and report are the same,
the manifest records the image ids, and no container of the run remains."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.integration.docker.helpers import run_containers
from tests.integration.pipeline_helpers import (
    marked_processes,
    metrics,
    new_mark,
    read_json,
    run_cli,
    temp_dirs,
    write_scenario,
)

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.usefixtures("images_ready")]

# scenarios/quickstart.toml, shortened and scaled down (max_connections 20 instead of 40)
SCENARIO = """
name = "quickstart-docker"
description = "the quickstart on Docker, short"
[database]
max_connections = 20
[load]
think_time = "0s"
endpoints = { read = 0.7, write = 0.1, slow = 0.2 }
slow_ms = 50
stages = [{ duration = "3s", users = 6, spawn_rate = 20 },
          { duration = "9s", users = 30, spawn_rate = 30 }]
[target.persistent]
pool_min = 2
pool_max = 10
[target.serverless]
instance_concurrency = 1
idle_timeout = "30s"
freeze = true
[pooler.pgbouncer]
pool_mode = "transaction"
pool_size = 5
[[variants]]
name = "persistent"
target = "persistent"
[[variants]]
name = "persistent+pgbouncer"
target = "persistent"
pooler = "pgbouncer"
target_overrides = { pool_max = 30 }
[[variants]]
name = "serverless"
target = "serverless"
[[variants]]
name = "serverless+pgbouncer"
target = "serverless"
pooler = "pgbouncer"
[thresholds]
"persistent.db.refused" = "== 0"
"persistent+pgbouncer.db.refused" = "== 0"
"serverless+pgbouncer.db.refused" = "== 0"
"serverless.db.refused" = "> 0"
"""
VARIANTS = ["persistent", "persistent+pgbouncer", "serverless", "serverless+pgbouncer"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
            ) -> Path:
    folder = tmp_path_factory.mktemp("quickstart-docker")
    mark = new_mark()
    out = folder / "quickstart-run"
    result = run_cli("run", str(write_scenario(folder, SCENARIO)), "--out", str(out),
                     "--runtime", "docker", "--quiet", mark=mark)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert run_containers(docker_client, out.name) == {}
    assert marked_processes(mark) == set()
    assert temp_dirs(mark) == set()
    return out


def test_same_run_folder_with_image_ids(run_dir: Path) -> None:
    manifest = read_json(run_dir / "manifest.json")
    assert manifest["status"] == "complete" and manifest["runtime"] == "docker"
    images = manifest["runtime_info"]["images"]
    assert {"postgres", "pgbouncer", "persistent", "instance"} <= set(images)
    assert all(ref["id"].startswith("sha256:") for ref in images.values())
    assert [v["name"] for v in manifest["variants"]] == VARIANTS
    for entry in manifest["variants"]:
        vdir = run_dir / entry["dir"]
        for name in ("requests", "db", "pglog", "host"):
            assert (vdir / f"{name}.parquet").exists(), (entry["name"], name)
        assert (vdir / "logs" / "postgres.log").stat().st_size > 0
        assert entry["versions"]["postgresql"].startswith("15")
    assert (run_dir / "serverless" / "1" / "cold_starts.parquet").exists()
    assert (run_dir / "index.html").exists()
    summary = read_json(run_dir / "summary.json")
    assert all(t["status"] == "pass" for t in summary["thresholds"]), summary["thresholds"]


def test_serverless_direct_is_refused(run_dir: Path) -> None:
    m = metrics(run_dir, "serverless")
    assert m["db.refused"] > 0 and m["errors.db_too_many_connections"] > 0
    assert m["platform.cold_starts"] > 17  # more instances than max_connections - 3
    assert m["platform.cold_start_ms.p50"] > 0


@pytest.mark.parametrize("name", ["persistent", "persistent+pgbouncer", "serverless+pgbouncer"])
def test_pooled_variants_are_not_refused(run_dir: Path, name: str) -> None:
    m = metrics(run_dir, name)
    assert m["http.requests"] > 50
    assert m["db.refused"] == 0 and m["errors.db_too_many_connections"] == 0
    if name.endswith("pgbouncer"):
        assert m["db.connections.peak"] <= 5 + 1  # pool_size plus PgBouncer's own
    else:
        assert m["db.connections.peak"] <= 10
