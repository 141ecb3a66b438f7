"""What the template runs (harness.platform.launch): the built-in handler or a user's app."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.platform.config import PlatformConfig
from harness.platform.launch import APPHOST_PACKAGE, app_launch, builtin_launch, template_launch

APPHOST = Path(__file__).resolve().parents[2] / "harness" / "apphost"


def test_builtin_handler_runs_in_the_harness_python() -> None:
    launch = template_launch(PlatformConfig(dsn="postgresql://x"), Path("/unused"))
    assert launch == builtin_launch(PlatformConfig(dsn="postgresql://x"))
    argv = launch.argv(7, 42)
    assert argv[:3] == [sys.executable, "-m", "harness.apphost.template"]
    assert argv[3:7] == ["--fd", "7", "--parent", "42"]
    preload = argv[argv.index("--preload") + 1].split(",")
    assert "harness.platform.instance" in preload and "uvloop" in preload
    assert preload[-1] == "targets.serverless.handler"  # the handler's module, once, before forks
    assert argv[-3:] == ["--", "--handler", "targets.serverless.handler:handler"]
    assert launch.env["PGSTAMPEDE_DSN"] == "postgresql://x" and launch.cwd is None


def test_app_sees_only_the_apphost_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/harness/site")
    monkeypatch.setenv("VIRTUAL_ENV", "/harness/.venv")
    monkeypatch.setenv("KEEP_ME", "1")
    monkeypatch.chdir(tmp_path)
    config = PlatformConfig(
        app_kind="wsgi", app_entry="orders.app:create_app", app_factory=True, app_root="src",
        app_python="venv/bin/python",
        app_env={"DATABASE_URL": "postgresql://db", "PYTHONPATH": "extra"},
        app_preload=("flask",), instance_concurrency=4,
    )
    launch = app_launch(config, tmp_path / "gw")
    path_dir = tmp_path / "gw" / "apphost"
    assert (path_dir / APPHOST_PACKAGE).resolve() == APPHOST
    assert sorted(p.name for p in path_dir.iterdir()) == [APPHOST_PACKAGE]
    assert launch.python == str(tmp_path / "venv" / "bin" / "python")  # a path, made absolute
    assert launch.cwd == str(path_dir)
    env = launch.env
    assert env["PYTHONPATH"] == os.pathsep.join([str(path_dir), "extra"])
    assert "VIRTUAL_ENV" not in env and env["KEEP_ME"] == "1"
    assert env["DATABASE_URL"] == "postgresql://db" and env["PYTHONNOUSERSITE"] == "1"
    assert env["PATH"].split(os.pathsep)[0] == str(tmp_path / "venv" / "bin")
    argv = launch.argv(3, 9)
    assert argv[1:3] == ["-m", f"{APPHOST_PACKAGE}.template"]
    assert argv[argv.index("--preload") + 1].endswith(",flask")
    assert argv[argv.index("--") + 1:] == [
        "--kind", "wsgi", "--entry", "orders.app:create_app", "--root", str(tmp_path / "src"),
        "--concurrency", "4", "--adapter", "web-adapter", "--factory",
    ]
    again = app_launch(config, tmp_path / "gw")  # the link is reused
    assert again == launch


def test_apps_run_only_as_processes() -> None:
    from harness.errors import InputError

    with pytest.raises(InputError, match="spawner = 'process' only"):
        PlatformConfig(app_kind="asgi", app_entry="m:app", spawner="docker")
