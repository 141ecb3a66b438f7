"""What the loader refuses instead of doing something else silently (issue 25): a setting the
harness owns in ``[database] settings``, a fraction of a second for a setting the pooler
counts in whole seconds, a built-in target's setting beside an ``[app]``; and an error in
``[load]`` names its key. Each is one line and exit 2 from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.runtime.postgres import server_settings
from harness.scenario import load_scenario
from harness.scenario.fields import OWNED_SETTINGS
from tests.unit.test_cli_input import assert_one_line_exit_2, pgstampede

APPS = Path(__file__).parents[1] / "apps"
BASE = """
name = "t"
[load]
stages = [{ duration = "5s", users = 1 }]
%s
[[variants]]
name = "p"
target = "persistent"
pooler = "pgbouncer"
[[variants]]
name = "s"
target = "serverless"
pooler = "pgpool"
"""


def write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(BASE % extra)
    return path


def refused(tmp_path: Path, extra: str) -> str:
    with pytest.raises(ScenarioError) as err:
        load_scenario(write(tmp_path, extra))
    assert err.value.exit_code == 2 and "\n" not in str(err.value)
    return err.value.key


def test_max_connections_in_settings_is_refused_on_the_command_line(tmp_path: Path) -> None:
    """Acceptance: settings = { max_connections = 50 } is exit 2 with one line (the server
    would run at 50 while db.max_connections, the table and the manifest said 100)."""
    path = write(tmp_path, "[database]\nsettings = { max_connections = 50 }")
    assert_one_line_exit_2(pgstampede("run", str(path)),
                           "database.settings: max_connections is set by the harness: use "
                           "[database] max_connections")


@pytest.mark.parametrize("name", sorted(OWNED_SETTINGS))
def test_every_setting_the_harness_owns_is_refused(tmp_path: Path, name: str) -> None:
    assert refused(tmp_path, f'[database]\nsettings = {{ {name} = "on" }}') == \
        "database.settings"


def test_the_owned_settings_are_the_ones_the_harness_sets() -> None:
    """Every setting of harness.runtime.postgres.server_settings is owned, except
    shared_buffers (a tuning a scenario may change)."""
    assert set(server_settings(100, {})) - {"shared_buffers"} == set(OWNED_SETTINGS)


def test_other_settings_pass(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, '[database]\nsettings = { work_mem = "4MB", '
                                   "shared_buffers = \"32MB\" }"))
    assert dict(scenario.variants[0].database.settings) == {"work_mem": "4MB",
                                                            "shared_buffers": "32MB"}


@pytest.mark.parametrize(("section", "key"), [
    ("pooler.pgbouncer", "query_wait_timeout"), ("pooler.pgbouncer", "client_idle_timeout"),
    ("pooler.pgbouncer", "server_idle_timeout"), ("pooler.pgpool", "child_life_time"),
    ("pooler.pgpool", "connection_life_time"), ("pooler.pgpool", "client_idle_limit")])
def test_a_fraction_of_a_second_is_refused_where_the_pooler_counts_seconds(
        tmp_path: Path, section: str, key: str) -> None:
    """Acceptance: query_wait_timeout = "400ms" is refused (it became 0: wait forever)."""
    assert refused(tmp_path, f'[{section}]\n{key} = "400ms"') == f"{section}.{key}"
    assert refused(tmp_path, f'[{section}]\n{key} = "1500ms"') == f"{section}.{key}"
    whole = load_scenario(write(tmp_path, f'[{section}]\n{key} = "2000ms"'))
    pooler = whole.variant("p" if "pgbouncer" in section else "s").pooler
    assert 2.0 in vars(pooler).values()


def test_400ms_query_wait_timeout_on_the_command_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[pooler.pgbouncer]\nquery_wait_timeout = "400ms"')
    assert_one_line_exit_2(pgstampede("run", str(path)),
                           "pooler.pgbouncer.query_wait_timeout: expected whole seconds")


@pytest.mark.parametrize(("key", "value"), [
    ("slow_ms", "-1"), ("processes", "0"), ("processes", '"two"'),
    ("request_timeout", '"soon"'), ("subscribe_duration", "true")])
def test_an_error_in_load_names_its_key(tmp_path: Path, key: str, value: str) -> None:
    text = BASE.replace('[load]\n', f"[load]\n{key} = {value}\n") % ""
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert err.value.key == f"load.{key}"


APP = f"""
[app]
asgi = "tiny.asgi_app:app"
root = "{APPS}"
python = "{sys.executable}"
[load.paths]
"GET /items" = 1
"""


@pytest.mark.parametrize(("section", "key", "value"), [
    ("target.persistent", "pool_max", "5"), ("target.persistent", "pool_min", "1"),
    ("target.persistent", "acquire_timeout", '"1s"'), ("target.persistent", "state",
                                                       '"postgres"'),
    ("target.serverless", "db_client", '"pool"'), ("target.serverless", "on_freeze",
                                                   '"drain"'),
    ("target.serverless", "background", '"queue"'), ("target.serverless", "pool_max", "2"),
    ("target.serverless", "prepared_statement_fix", "false")])
def test_a_builtin_target_setting_beside_an_app_is_refused(
        tmp_path: Path, section: str, key: str, value: str) -> None:
    assert refused(tmp_path, f"{APP}\n[{section}]\n{key} = {value}") == f"{section}.{key}"


def test_a_builtin_setting_in_target_overrides_beside_an_app_is_refused(tmp_path: Path) -> None:
    text = (BASE % APP).replace('pooler = "pgpool"',
                                'pooler = "pgpool"\ntarget_overrides = { state = "postgres" }')
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match="built-in target") as err:
        load_scenario(path)
    assert err.value.key == "variants[1].target_overrides.state"


def test_platform_and_server_settings_beside_an_app_pass(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, f"{APP}\n[target.persistent]\nworkers = 2\n"
                                   "[target.serverless]\nmax_instances = 5\n"
                                   'preset = "aws-lambda"\nidle_timeout = "5s"'))
    assert scenario.variant("s").target.max_instances == 5  # type: ignore[union-attr]
