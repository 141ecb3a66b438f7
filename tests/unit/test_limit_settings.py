"""``[limit]`` in a scenario and ``pgstampede limit``'s flags: strict keys, one-line errors,
exit 2 for bad values, the flags over the table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.check.noise import MEASURED_SPREAD
from harness.errors import InputError, ScenarioError
from harness.limit.settings import LimitFlags, reserved_slots, resolve_settings
from harness.results import metric_names as m
from harness.scenario import DatabaseSpec
from harness.scenario.limit import LimitSpec
from harness.scenario.loader import parse_scenario

ROOT = Path(__file__).parents[2]
BASE: dict[str, Any] = {
    "load": {"endpoints": {"read": 1}, "stages": [{"duration": "1s", "users": 1}]},
    "variants": [{"name": "a", "target": "serverless"}],
}


def limit_table(**table: Any) -> LimitSpec:
    return parse_scenario({**BASE, "limit": table}, "s.toml").limit


def test_every_key_is_optional_with_its_default() -> None:
    assert parse_scenario(dict(BASE), "s.toml").limit == LimitSpec()
    spec = limit_table(max_users=40, until="p95", error_budget="2.5%", p95="250ms",
                       verify=True, step=5, step_duration="3s", headroom=4)
    assert spec == LimitSpec(max_users=40, until="p95", error_budget=0.025, p95_ms=250.0,
                             verify=True, step=5, step_duration_s=3.0, headroom="4")
    assert limit_table(until="p95", p95=0.5).p95_ms == 0.5  # a bare number is milliseconds
    assert limit_table(until="p95", p95="1s").p95_ms == 1000.0
    assert limit_table(error_budget=0.02).error_budget == 0.02


@pytest.mark.parametrize(("table", "message"), [
    ({"max_user": 10}, "s.toml: limit.max_user: unknown key (expected one of: error_budget, "),
    ({"max_users": 0}, "s.toml: limit.max_users: expected an integer >= 1, got 0"),
    ({"until": "slow"}, "s.toml: limit.until: expected one of refused, errors, p95, got 'slow'"),
    ({"error_budget": "100%"}, "s.toml: limit.error_budget: expected a share from 0% up to"),
    ({"error_budget": "5ms"}, "s.toml: limit.error_budget: unit 'ms' does not fit"),
    ({"until": "p95"}, "s.toml: limit.p95: expected a p95 target with until = \"p95\""),
    ({"p95": "200ms"}, "s.toml: limit.p95: a p95 target is judged only with until = \"p95\""),
    ({"step": 200}, "s.toml: limit.step: expected at most max_users (100), got 200"),
    ({"step_duration": "0.5s"}, "s.toml: limit.step_duration: expected a duration from 1s"),
    ({"headroom": "ten"}, "s.toml: limit.headroom: expected a number of connections"),
    ({"verify": "yes"}, "s.toml: limit.verify: expected true or false, got 'yes'"),
])
def test_a_bad_limit_table_is_one_line_naming_the_key(table: dict[str, Any],
                                                      message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        limit_table(**table)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert err.value.exit_code == 2


def test_flags_go_over_the_table() -> None:
    spec = LimitSpec(max_users=40, until="p95", p95_ms=300.0, step=8)
    settings = resolve_settings(spec, LimitFlags())
    assert (settings.max_users, settings.until, settings.p95_ms, settings.step) == \
        (40, "p95", 300.0, 8)
    settings = resolve_settings(spec, LimitFlags(max_users=20, until="refused",
                                                 error_budget="5%", verify=True))
    assert (settings.max_users, settings.until, settings.p95_ms) == (20, "refused", None)
    assert (settings.error_budget, settings.verify) == (0.05, True)
    # no step written: a tenth of max_users; the step never exceeds max_users
    assert resolve_settings(LimitSpec(max_users=95), LimitFlags()).step == 10
    assert resolve_settings(spec, LimitFlags(max_users=5)).step == 5
    # half the p95's measured spread between identical runs (harness.check.noise)
    noise = resolve_settings(spec, LimitFlags()).p95_noise
    assert noise == round(MEASURED_SPREAD[m.LATENCY_P95_MS] / 2, 4) and 0.0 < noise < 0.5


@pytest.mark.parametrize(("flags", "message"), [
    (LimitFlags(until="p95"), "--until p95: needs a p95 target (--p95 MS, or p95 in [limit])"),
    (LimitFlags(p95="200"), "--p95: a p95 target is judged only with --until p95"),
    (LimitFlags(until="slow"), "--until 'slow': expected one of refused, errors, p95"),
    (LimitFlags(error_budget="lots"), "--error-budget 'lots': expected a number"),
    (LimitFlags(until="p95", p95="-3"), "--p95 '-3': expected a time > 0"),
    (LimitFlags(max_users=0), "--max-users 0: expected an integer from 1 to 100000"),
])
def test_bad_flags_are_input_errors(flags: LimitFlags, message: str) -> None:
    with pytest.raises(InputError) as err:
        resolve_settings(LimitSpec(), flags)
    assert str(err.value).startswith(message)


def test_reserved_slots_follow_the_servers_settings() -> None:
    assert reserved_slots(DatabaseSpec()) == 3
    assert reserved_slots(DatabaseSpec(settings=(("superuser_reserved_connections", "5"),
                                                 ("reserved_connections", "2")))) == 7


def pgstampede(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize(("args", "needle"), [
    (["limit", "quickstart", "--until", "p95"], "--until p95: needs a p95 target"),
    (["limit", "quickstart", "--max-users", "x"], "--max-users: invalid int value"),
    (["limit", "quickstart", "--variants", "nope"], "unknown variant 'nope'"),
    (["limit", "scenarios/nope.toml"], "no such file"),
])
def test_the_command_says_bad_input_in_one_line_exit_2(args: list[str], needle: str) -> None:
    result = pgstampede(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.stderr
