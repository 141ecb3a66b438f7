"""``[pooler.pgbouncer] image``: bookworm (1.18) by default, trixie (1.24) on request; a bad
value is refused at load; the process runtime refuses trixie unless this machine's pgbouncer
is 1.21 or later (here: Debian bookworm's 1.18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InputError
from harness.runtime.images import IMAGES, base_release, base_tag, image_spec
from harness.runtime.pgbouncer import find_pgbouncer, pgbouncer_version, tracks_prepared_statements
from harness.scenario import load_scenario
from harness.services.registry import check_supported

SCENARIO = """
name = "versions"
[load]
stages = [{ duration = "1s", users = 1, spawn_rate = 1 }]
[[variants]]
name = "old"
target = "persistent"
pooler = "pgbouncer"
[[variants]]
name = "new"
target = "persistent"
pooler = "pgbouncer"
pooler_overrides = { image = "%s" }
"""


def write(tmp_path: Path, image: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO % image)
    return path


def test_image_defaults_to_bookworm_and_is_overridable(tmp_path: Path) -> None:
    old, new = load_scenario(write(tmp_path, "trixie")).variants
    assert (old.pooler.image, new.pooler.image) == ("bookworm", "trixie")


def test_unknown_image_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="image: expected one of bookworm, trixie"):
        load_scenario(write(tmp_path, "sid"))


def test_process_runtime_refuses_trixie_with_an_older_pgbouncer(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "trixie"))
    if tracks_prepared_statements(pgbouncer_version(find_pgbouncer())):
        pytest.skip("this machine's pgbouncer is 1.21 or later")
    with pytest.raises(InputError, match=r"variant new asks for .*image = \"trixie\""):
        check_supported("process", scenario)
    check_supported("process", scenario, ("old",))  # the bookworm variant alone runs


def test_trixie_image_is_built_from_a_trixie_base() -> None:
    spec = image_spec("pgbouncer-trixie")
    assert spec.base == base_tag("trixie") == "debian:trixie-slim"
    assert base_release(spec.base) == "trixie"
    dockerfile = (Path(__file__).resolve().parents[2] / spec.dockerfile).read_text()
    assert "FROM debian:trixie-slim" in dockerfile
    assert {s.base for s in IMAGES} == {"debian:bookworm-slim", "debian:trixie-slim"}
