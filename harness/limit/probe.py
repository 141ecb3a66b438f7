"""One probe of the search: a variant run with the probe's load, judged while it runs.

A probe is an ordinary variant run (:class:`harness.run.variant.VariantRunner`) of the
variant — fresh services, collectors, Locust, frames in ``<variant>/<repeat>/`` and a record
in the manifest — whose scenario carries the probe's stages instead of ``[load] stages``
(the requests and think time stay the scenario's), and whose seams are wrapped by a
:class:`harness.limit.watch.Watch`. A verify probe also runs with ``max_instances`` capped.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass

from harness.errors import HarnessError
from harness.limit.search import ProbePlan
from harness.limit.watch import Watch, WatchedLoad
from harness.results.folder import RunFolder
from harness.results.limit import LimitSettings, ProbeKind, ProbeRecord
from harness.run.manifest import ManifestWriter
from harness.run.plan import RunItem
from harness.run.progress import Progress
from harness.run.seams import Seams
from harness.run.variant import VariantRunner
from harness.scenario import NoPooler, Scenario, ServerlessSpec, Variant


@dataclass(frozen=True)
class Session:
    """What every probe of a limit run shares."""

    scenario: Scenario
    settings: LimitSettings
    folder: RunFolder
    writer: ManifestWriter
    seams: Seams
    progress: Progress
    keep: bool = False


def probe_scenario(scenario: Scenario, plan: ProbePlan) -> Scenario:
    """The scenario with the probe's stages as its load (requests and think time kept) and
    no faults (they would land at other loads in every probe)."""
    return dataclasses.replace(scenario, faults=(),
                               load=dataclasses.replace(scenario.load, stages=plan.stages))


def capped(variant: Variant, max_instances: int) -> Variant:
    """The serverless variant with ``max_instances`` set (ValueError for another target)."""
    if not isinstance(variant.target, ServerlessSpec):
        raise ValueError(f"variant {variant.name}: only a serverless target has max_instances")
    return dataclasses.replace(variant, target=dataclasses.replace(
        variant.target, max_instances=max_instances))


def describe(exc: BaseException) -> str:
    if isinstance(exc, HarnessError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


def probe_label(variant: Variant, kind: ProbeKind, plan: ProbePlan,
                max_instances: int | None) -> str:
    if kind == "ramp":
        return f"{variant.name} · ramp to {plan.steps[-1].users} users"
    if kind == "verify":
        return f"{variant.name} · verify {plan.steps[0].users} users, max instances " \
               f"{max_instances}"
    return f"{variant.name} · probe {plan.steps[0].users} users"


async def run_probe(session: Session, variant: Variant, repeat: int, kind: ProbeKind,
                    plan: ProbePlan, max_instances: int | None = None) -> ProbeRecord:
    """Run one probe as repeat ``repeat`` of ``variant``; its steps as judged live."""
    if max_instances is not None:
        variant = capped(variant, max_instances)
    label = probe_label(variant, kind, plan, max_instances)
    watch = Watch(plan.steps, session.settings, pooler=not isinstance(variant.pooler, NoPooler),
                  max_connections=variant.database.max_connections, label=variant.name,
                  say=session.progress.message)
    seams = dataclasses.replace(session.seams, load=WatchedLoad(session.seams.load, watch),
                                collectors=watch.collectors_factory(session.seams.collectors))
    item = RunItem(variant=variant, repeat=repeat, index=repeat, total=repeat)
    runner = VariantRunner(probe_scenario(session.scenario, plan), item, session.folder, seams,
                           session.progress, keep=session.keep)
    session.progress.variant_started(label)
    session.writer.put_variant(runner.record())
    try:
        await runner.execute()
        runner.finish("complete")
    except asyncio.CancelledError:
        runner.finish("interrupted", "interrupted")
        raise
    except Exception as exc:
        runner.finish("failed", describe(exc))
        raise
    finally:
        record = runner.record()
        session.writer.put_variant(record)
        session.progress.variant_finished(f"{label}: {record.status}")
    return ProbeRecord(repeat=repeat, kind=kind, steps=tuple(watch.records),
                       max_instances=max_instances)
