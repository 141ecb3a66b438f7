"""The breaking-point search as plans and decisions: the ramp's steps, the probes'
loads, and the bisection against synthetic systems whose true break is known."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from harness.limit.search import Search, level_plan, ramp_plan, ramp_users
from harness.results.limit import LimitSettings, StepRecord
from harness.results.records import StageWindow
from harness.run.variant import stages_run

SETTINGS = LimitSettings(until="refused", error_budget=0.01, p95_ms=None, max_users=100,
                         step=10, step_duration_s=5.0, spawn_rate=10.0, verify=False,
                         headroom="10%", p95_noise=0.23)


def step(users: int, broke: bool, clear: bool = True) -> StepRecord:
    return StepRecord(users=users, start=0.0, settled=1.0, end=5.0,
                      verdict="broke" if broke else "held", reason="refused" if broke else "",
                      detail="x", clear=clear, broke_at=5.0 if broke else None)


def search_against(breaks_at: int, settings: LimitSettings = SETTINGS,
                   close: Callable[[int], bool] = lambda users: False) -> tuple[Search, list[int]]:
    """The whole search against a system that breaks from ``breaks_at`` users on;
    ``close(users)`` says which verdicts are too close to call."""
    ramp = []
    for users in ramp_users(settings):
        ramp.append(step(users, users >= breaks_at, not close(users)))
        if users >= breaks_at:
            break
    search = Search.after_ramp(ramp, settings)
    probes = []
    while (users := search.next_users()) is not None:
        probes.append(users)
        search.record(step(users, users >= breaks_at, not close(users)))
    return search, probes


def test_the_ramp_climbs_in_steps_to_max_users() -> None:
    assert ramp_users(SETTINGS) == (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
    assert ramp_users(dataclasses.replace(SETTINGS, max_users=25)) == (10, 20, 25)
    plan = ramp_plan(dataclasses.replace(SETTINGS, max_users=25))
    assert [s.users for s in plan.stages] == [10, 20, 25]
    # each step spawns its new users (10/s) then holds them step_duration
    assert [s.duration_s for s in plan.stages] == [6.0, 6.0, 5.5]
    first, second, last = plan.steps
    assert (first.start_s, first.settled_s, first.end_s) == (0.0, 2.0, 6.0)
    assert (second.start_s, second.end_s) == (6.0, 12.0)
    assert last.end_s == pytest.approx(17.5) and last.settled_s == pytest.approx(13.5)


def test_a_probe_is_one_constant_load_spawned_within_two_seconds() -> None:
    plan = level_plan(60, SETTINGS)
    (stage,), (only,) = plan.stages, plan.steps
    assert (stage.users, stage.spawn_rate) == (60, 30.0)
    assert only.settled_s == pytest.approx(3.0) and only.end_s == pytest.approx(7.0)


@pytest.mark.parametrize("breaks_at", [1, 7, 10, 11, 37, 99, 100])
def test_bisection_finds_the_break_to_one_user(breaks_at: int) -> None:
    search, probes = search_against(breaks_at)
    assert (search.held, search.broke) == (breaks_at - 1, breaks_at)
    assert search.stopped == "resolved to one user"
    assert len(probes) <= 4  # log2 of the step (10)
    assert len(set(probes)) == len(probes)


def test_a_variant_that_holds_to_max_users_has_no_probe() -> None:
    search, probes = search_against(10_000)
    assert (search.held, search.broke, probes) == (100, None, [])
    assert "held every step up to max_users (100)" in search.stopped


def test_a_verdict_too_close_to_call_ends_the_refinement() -> None:
    search, probes = search_against(37, close=lambda users: users == 35)
    assert probes == [35]  # 30 held, 40 broke: the probe at 35 held, too close to call
    assert (search.held, search.broke) == (35, 40)
    assert search.stopped.startswith("stopped refining: at 35 users the verdict was too close")


def test_a_ramp_break_too_close_to_call_gets_no_probe() -> None:
    search, probes = search_against(40, close=lambda users: users == 40)
    assert probes == [] and (search.held, search.broke) == (30, 40)
    assert "too close to call" in search.stopped


def test_only_the_steps_around_the_break_decide_its_clarity() -> None:
    # an early step held but close to its limit says nothing about the break at 40
    search, probes = search_against(37, close=lambda users: users == 10)
    assert (search.held, search.broke) == (36, 37) and probes


def test_a_load_that_ended_early_records_only_the_stages_it_ran() -> None:
    planned = tuple(StageWindow(start=100.0 + 6 * k, end=106.0 + 6 * k, users=10 * (k + 1),
                                spawn_rate=10.0) for k in range(4))
    ran = stages_run(planned, load_end=113.5)
    assert [(s.start, s.end, s.users) for s in ran] == [(100.0, 106.0, 10), (106.0, 112.0, 20),
                                                        (112.0, 113.5, 30)]
    assert stages_run(planned, load_end=125.0) == planned  # a load that ran its plan
