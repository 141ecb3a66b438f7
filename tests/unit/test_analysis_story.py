"""One finding per trap from the article's variants, and Vercel's claim."""

from __future__ import annotations

import dataclasses
from typing import Any

from harness.analysis.story import TRAPS, VARIANTS, story, vercel_finding
from harness.results.summary import VariantSummary


def summary(metrics: dict[str, Any]) -> VariantSummary:
    return VariantSummary(status="complete", error=None, target="serverless", pooler="none",
                          max_connections=25, metrics=metrics, nulls={}, repeats=(),
                          stages=(), faults=(), problems=())


PROBLEM = {"platform.cold_starts": 30, "platform.cold_start_ms.p95": 41.5,
           "state.counter_divergence": 120, "state.instances_seen": 30,
           "db.connections.peak": 25, "db.max_connections": 25, "db.refused": 14,
           "db.connections.idle.peak": 20, "db.connections.idle.mean": 14.5,
           "db.connects": 30, "background.lost": 7,
           "background.delayed": 3, "realtime.disconnects": 5, "realtime.lost": 9,
           "realtime.listen_connections.peak": 4, "http.in_flight.peak": 18}


def test_every_trap_gets_its_numbers_and_vercel_says_which_held_more() -> None:
    fix = {**PROBLEM, "platform.cold_starts": 3, "state.counter_divergence": 0,
           "db.connections.peak": 6, "db.refused": 0, "db.connections.idle.peak": 1,
           "db.connections.idle.mean": 0.4,
           "db.connects": 400, "background.lost": 0, "background.delay_ms.p95": 12.0,
           "realtime.lost": 0, "realtime.disconnects": 0}
    variants = {name: summary(PROBLEM if name == "serverless" else fix) for name in VARIANTS}
    found = dict(story(variants))
    assert [t.title for t in TRAPS] == list(found)[:-1]
    assert "started 30 instances" in found["1. Process lifecycle (cold starts)"]
    assert "off in 120 answers" in found["2. Global state"]
    assert "in 0" in found["2. Global state"]
    assert "14 were refused" in found["3. Scaling by multiplication"]
    leaks = found["3b. Connections leaked while frozen"]
    assert "held 14.5 idle connections on average (up to 20)" in leaks
    assert "draining them before each freeze held 0.4 (up to 1)" in leaks
    assert "400 connects instead of 30 (0 refused instead of 14)" in leaks
    assert "7 jobs lost" in found["4. Background work after the response"]
    realtime = found["5. Long-lived connections (LISTEN, server-sent events)"]
    assert "missed 9 due messages" in realtime
    claim = found["Vercel's claim"]
    assert "serverless 25 connections for 18 requests in flight (more connections)" in claim
    assert "persistent 6 connections for 18 requests in flight (more requests)" in claim


def test_a_run_without_the_article_variants_has_no_story() -> None:
    assert story({"fits": summary(PROBLEM)}) == []


def test_an_unmeasured_number_reads_n_a() -> None:
    found = dict(story({"serverless": summary({}), "serverless-state": summary({})}))
    assert found["2. Global state"].count("n/a") == 3


def test_vercel_finding_says_which_held_more_for_serverless_variants_only() -> None:
    leaky = summary({"db.connections.peak": 30, "http.in_flight.peak": 12})
    assert vercel_finding("s", leaky) == (
        "s: at most 30 connections for at most 12 requests in flight (more connections than "
        "requests: connections held by idle or frozen instances)")
    even = summary({"db.connections.peak": 12, "http.in_flight.peak": 12})
    assert "one connection per request" in str(vercel_finding("s", even))
    persistent = dataclasses.replace(leaky, target="persistent")
    assert vercel_finding("p", persistent) is None
    assert vercel_finding("s", summary({"db.connections.peak": 3})) is None
