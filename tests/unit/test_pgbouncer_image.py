"""``[pooler.pgbouncer] image``: the runtime's own PgBouncer by default (docker: bookworm's
1.18), bookworm (1.18) or trixie (1.24) on request; a bad value is refused at load; the
process runtime runs this machine's pgbouncer and refuses, with one line naming its version,
an image of the other kind: trixie unless it is 1.21 or later, bookworm unless it is older."""

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


def test_image_defaults_to_the_runtimes_own_and_is_overridable(tmp_path: Path) -> None:
    old, new = load_scenario(write(tmp_path, "trixie")).variants
    assert (old.pooler.image, new.pooler.image) == ("", "trixie")


def test_unknown_image_is_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(InputError, match='image: expected one of "", bookworm, trixie'):
        load_scenario(write(tmp_path, "sid"))


@pytest.mark.parametrize("image", ["bookworm", "trixie"])
def test_process_runtime_refuses_an_image_its_pgbouncer_is_not(tmp_path: Path,
                                                              image: str) -> None:
    """This machine's pgbouncer runs a variant that asks for its kind and refuses one that
    asks for the other, naming the installed version (one line, exit 2)."""
    scenario = load_scenario(write(tmp_path, image))
    version = pgbouncer_version(find_pgbouncer())
    if tracks_prepared_statements(version) == (image == "trixie"):
        check_supported("process", scenario)  # the machine's pgbouncer is of that kind
        return
    with pytest.raises(InputError) as err:
        check_supported("process", scenario)
    message = str(err.value)
    assert f'variant new asks for [pooler.pgbouncer] image = "{image}"' in message
    assert f"this machine's pgbouncer is {version}" in message and "\n" not in message
    assert err.value.exit_code == 2
    check_supported("process", scenario, ("old",))  # the variant without an image runs


def test_trixie_image_is_built_from_a_trixie_base() -> None:
    spec = image_spec("pgbouncer-trixie")
    assert spec.base == base_tag("trixie") == "debian:trixie-slim"
    assert base_release(spec.base) == "trixie"
    dockerfile = (Path(__file__).resolve().parents[2] / spec.dockerfile).read_text()
    assert "FROM debian:trixie-slim" in dockerfile
    assert {s.base for s in IMAGES} == {"debian:bookworm-slim", "debian:trixie-slim"}
