"""``pgstampede limit``: find where each variant breaks, advise the setting that holds,
prove it (docs/limit.md).

For each selected variant, in turn: the ramp probe, the bisection probes
(:mod:`harness.limit.search`), then with ``--verify`` one probe at the recommended max
instances and the load that broke the variant. Every probe is a variant run of an ordinary
run folder (repeat 1, 2, ... of the variant); ``limit.json`` is rewritten after each probe,
so an interrupted search keeps what it decided. The run ends as ``run`` ends
(:func:`harness.run.scenario.guarded`), then ``summary.json`` and the report are built from
the folder (:func:`harness.run.finalise.finalise`), the ``limit.*`` metrics with them.

The manifest records the scenario with only its thresholds on ``limit.*`` metrics: the
search drives every variant past its break on purpose, so the thresholds written for ``run``
(no refusals, a low error rate) are not judged on it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from harness.analysis.limit import variant_break
from harness.analysis.recommend import Recommendation
from harness.analysis.run import variant_run
from harness.errors import ExitCode
from harness.limit.probe import Session, run_probe
from harness.limit.search import Search, level_plan, ramp_plan
from harness.limit.settings import LimitFlags, check_variants, reserved_slots, resolve_settings
from harness.results.folder import RunFolder
from harness.results.limit import (
    LIMIT_METRICS_PREFIX,
    LIMIT_VERSION,
    LimitRecord,
    ProbeRecord,
    VariantLimit,
    write_limit,
)
from harness.results.summary import Summary
from harness.run.finalise import finalise
from harness.run.manifest import ManifestWriter
from harness.run.progress import Progress
from harness.run.scenario import Ending, guarded
from harness.run.seams import Seams
from harness.scenario import Scenario, Variant


@dataclass(frozen=True)
class LimitOptions:
    """How to search: from the command line, passed down unchanged."""

    out: Path
    only: tuple[str, ...] | None = None
    flags: LimitFlags = LimitFlags()
    keep: bool = False
    machine_id: str | None = None


@dataclass(frozen=True)
class LimitOutcome:
    run_dir: Path
    status: str
    summary: Summary
    error: str | None = None
    exit_code: int = 0


def recorded_scenario(scenario: Scenario) -> Scenario:
    """The scenario as a limit run's manifest keeps it: its ``limit.*`` thresholds only."""
    kept = tuple(t for t in scenario.check.thresholds
                 if t.metric.startswith(LIMIT_METRICS_PREFIX))
    return dataclasses.replace(scenario,
                               check=dataclasses.replace(scenario.check, thresholds=kept))


class Searcher:
    """The search of every variant, recorded in ``limit.json`` as it goes."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.done: list[VariantLimit] = []

    def save(self, current: VariantLimit | None = None) -> None:
        variants = tuple(self.done) + ((current,) if current is not None else ())
        write_limit(self.session.folder.path,
                    LimitRecord(LIMIT_VERSION, self.session.settings, variants))

    async def search(self, variant: Variant) -> VariantLimit:
        settings = self.session.settings
        reserved = reserved_slots(variant.database)
        probes = [await run_probe(self.session, variant, 1, "ramp", ramp_plan(settings))]
        search = Search.after_ramp(probes[0].steps, settings)
        self.save(self._state(variant.name, reserved, probes, search))
        while (users := search.next_users()) is not None:
            probe = await run_probe(self.session, variant, len(probes) + 1, "bisect",
                                    level_plan(users, settings))
            probes.append(probe)
            if not probe.steps:
                search.stopped = f"the probe at {users} users judged no step"
            for step in probe.steps:
                search.record(step)
            self.save(self._state(variant.name, reserved, probes, search))
        found = self._state(variant.name, reserved, probes, search)
        if settings.verify:
            found = await self.verify(variant, found)
        self.session.progress.message(self._summary_line(found))
        return found

    @staticmethod
    def _state(name: str, reserved: int, probes: list[ProbeRecord], search: Search
               ) -> VariantLimit:
        return VariantLimit(name=name, reserved=reserved, probes=tuple(probes),
                            held_users=search.held, broke_users=search.broke,
                            stopped=search.stopped or "searching")

    def advice(self, found: VariantLimit) -> Recommendation | None:
        """The recommendation computed from what the probes so far wrote to the folder."""
        session = self.session
        manifest = session.writer.manifest
        coverage = manifest.scenario.check.min_coverage
        runs = {r.repeat: variant_run(session.folder.load_variant(r), coverage)
                for r in manifest.variants if r.name == found.name}
        return variant_break(found, session.settings, runs).recommendation

    async def verify(self, variant: Variant, found: VariantLimit) -> VariantLimit:
        """One more probe at the recommended max instances and the load that broke it."""
        advice = self.advice(found)
        if advice is None or advice.max_instances is None:
            why = "not a serverless variant" if advice is None else advice.max_instances_text
            self.session.progress.message(f"  {variant.name}: nothing to verify: {why}")
            return found
        users = found.broke_users if found.broke_users is not None else found.held_users
        probe = await run_probe(self.session, variant, len(found.probes) + 1, "verify",
                                level_plan(users, self.session.settings),
                                max_instances=advice.max_instances)
        found = dataclasses.replace(found, probes=found.probes + (probe,))
        self.save(found)
        return found

    @staticmethod
    def _summary_line(found: VariantLimit) -> str:
        if found.broke_users is None:
            return f"  {found.name}: held up to {found.held_users} users"
        return (f"  {found.name}: breaks at {found.broke_users} users, held at "
                f"{found.held_users}; {found.stopped}")


async def search_all(session: Session, variants: tuple[Variant, ...]) -> Ending:
    """Every variant's search in turn: ``complete``, ``incomplete``, or ``failed`` when a
    probe ended failed without an error (a broken app: harness.run.broken_app); errors
    propagate."""
    session.writer.set_runtime_info(session.seams.runtime.describe())
    searcher = Searcher(session)
    searcher.save()
    for variant in variants:
        searcher.done.append(await searcher.search(variant))
        searcher.save()
    records = session.writer.manifest.variants
    failures = [f"{r.label}: {r.error}" for r in records if r.status == "failed" and r.error]
    if failures:
        return Ending("failed", "; ".join(failures), ExitCode.INCOMPLETE)
    if all(r.status == "complete" for r in records):
        return Ending("complete", None, ExitCode.OK)
    return Ending("incomplete", None, ExitCode.INCOMPLETE)


async def limit_session(scenario: Scenario, options: LimitOptions, seams: Seams,
                        progress: Progress) -> Ending:
    settings = resolve_settings(scenario.limit, options.flags)
    variants = scenario.selected(options.only)
    check_variants(variants)
    folder = RunFolder(options.out)
    writer = ManifestWriter(folder, recorded_scenario(scenario), seams.runtime.name,
                            planned=tuple(v.name for v in variants),
                            machine_id=options.machine_id)
    options.out.mkdir(parents=True, exist_ok=True)
    writer.write()
    session = Session(scenario=scenario, settings=settings, folder=folder, writer=writer,
                      seams=seams, progress=progress, keep=options.keep)
    return await guarded(search_all(session, variants), folder, writer, progress)


def check_inputs(scenario: Scenario, options: LimitOptions) -> None:
    """Every input error (exit 2) before anything starts."""
    resolve_settings(scenario.limit, options.flags)
    check_variants(scenario.selected(options.only))


def limit(scenario: Scenario, options: LimitOptions, seams: Seams,
          progress: Progress) -> LimitOutcome:
    """Synchronous entry point: search in a fresh event loop, then finalise the folder."""
    check_inputs(scenario, options)
    options = dataclasses.replace(options, out=options.out.absolute())
    ending = asyncio.run(limit_session(scenario, options, seams, progress))
    summary = finalise(options.out, progress)
    code = ending.exit_code
    if code == 0 and summary.status != "complete":
        code = ExitCode.INCOMPLETE
    return LimitOutcome(run_dir=options.out, status=summary.status, summary=summary,
                        error=ending.error, exit_code=code)
