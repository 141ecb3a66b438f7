"""Bad input on the command line: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def pgstampede(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert needle in lines[0]


def test_malformed_toml(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [\n")
    assert_one_line_exit_2(pgstampede("run", str(bad)), "invalid TOML")


def test_unknown_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    text = "whatever = 1\n" + (ROOT / "scenarios" / "quickstart.toml").read_text()
    bad.write_text(text)
    assert_one_line_exit_2(pgstampede("run", str(bad)), "whatever: unknown key")


def test_negative_users(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    text = (ROOT / "scenarios" / "quickstart.toml").read_text()
    bad.write_text(text.replace("users = 60", "users = -60"))
    assert_one_line_exit_2(pgstampede("run", str(bad)), "users: expected an integer >= 0")


def test_a_load_beyond_one_machine_is_refused_up_front(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "quickstart.toml").read_text()
    bad = tmp_path / "huge.toml"
    bad.write_text(text.replace("users = 60", "users = 100000000"))
    result = pgstampede("run", str(bad))
    assert_one_line_exit_2(result, "users = 100,000,000: more than one load machine can drive "
                                   "(100,000 users; 100,000 per machine)")
    assert "--workers 1,000" in result.stderr
    fast = tmp_path / "fast.toml"
    fast.write_text(text.replace("spawn_rate = 20", "spawn_rate = 1000000"))
    assert_one_line_exit_2(pgstampede("run", str(fast)), "spawn_rate = 1,000,000: faster than "
                                                         "one load machine can start users")


def test_unknown_variant() -> None:
    result = pgstampede("run", "scenarios/quickstart.toml", "--variants", "persistent,lambda")
    assert_one_line_exit_2(result, "unknown variant 'lambda'")


def test_missing_file() -> None:
    assert_one_line_exit_2(pgstampede("run", "scenarios/nope.toml"), "no such file")


@pytest.mark.parametrize("args", [["run"], ["frobnicate"], ["run", "quickstart", "--repeats",
                                                              "x"]])
def test_bad_flags(args: list[str]) -> None:
    result = pgstampede(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_out_not_writable(tmp_path: Path) -> None:
    taken = tmp_path / "file"
    taken.write_text("x")
    result = pgstampede("run", "quickstart", "--out", str(taken))
    assert_one_line_exit_2(result, "not a folder")


def test_list_shows_shipped_scenarios() -> None:
    result = pgstampede("list")
    assert result.returncode == 0, result.stderr
    for name in ("quickstart", "spike", "steady"):
        assert name in result.stdout


def test_bad_machine_id_flag_and_environment(tmp_path: Path) -> None:
    result = pgstampede("run", "quickstart", "--machine-id", "has space",
                        "--out", str(tmp_path / "out"))
    assert_one_line_exit_2(result, "--machine-id 'has space': expected 1 to 64 letters")
    assert not (tmp_path / "out").exists()
    env = {**os.environ, "PGSTAMPEDE_MACHINE_ID": "x" * 65}
    result = subprocess.run([sys.executable, "-m", "harness", "check", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
    assert_one_line_exit_2(result, "PGSTAMPEDE_MACHINE_ID")
