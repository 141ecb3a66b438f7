"""Running a scenario: every planned variant run in turn, then the summary and the report.

Once the run has started (its folder exists), every way it can end leaves a manifest with
the final status, a ``summary.json`` and the report, with every service stopped:

- ``complete``: every variant run measured everything;
- ``incomplete``: it ran to the end but a measurement is missing (see harness.analysis.health);
- ``failed``: an error ended it — any error, an InputError raised mid-run included (a port
  taken after planning); an error that is not the harness's own has its traceback in
  ``<run>/error.log``; or a variant run ended failed: a serverless variant of an ``[app]``
  in which no instance completed its init (harness.run.broken_app; the other variants still
  run);
- ``interrupted``: SIGINT/SIGTERM.

The exit code is 3 for anything but ``complete``, except an AppError found before the load
(the user's app did not start: exit 2, see issue 12).
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import traceback
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import AppError, ExitCode, HarnessError
from harness.results.folder import RunFolder
from harness.results.records import RunStatus
from harness.results.summary import Summary
from harness.run.finalise import finalise
from harness.run.manifest import ManifestWriter
from harness.run.plan import RunItem, make_plan
from harness.run.progress import Progress
from harness.run.seams import Seams
from harness.run.variant import VariantRunner
from harness.scenario import Scenario

ERROR_LOG = "error.log"


@dataclass(frozen=True)
class RunOptions:
    """How to run: from the CLI, passed down unchanged."""

    out: Path
    only: tuple[str, ...] | None = None
    keep: bool = False
    repeats: int | None = None
    machine_id: str | None = None  # --machine-id: the manifest's name for this machine


@dataclass(frozen=True)
class Ending:
    """How the run ended: its status, the error that ended it, the exit code it means."""

    status: RunStatus
    error: str | None = None
    exit_code: int = 0


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    status: str
    summary: Summary
    error: str | None = None
    exit_code: int = 0


class _Stopper:
    """Turns SIGINT/SIGTERM into a cancellation of the run task, once."""

    def __init__(self, task: asyncio.Task[Any], progress: Progress) -> None:
        self.task = task
        self.progress = progress
        self.signal: str | None = None

    def __call__(self, sig: signal.Signals) -> None:
        if self.signal is None:
            self.signal = sig.name
            self.progress.message(f"{sig.name}: stopping, saving what was measured…")
            self.task.cancel()


def _label(item: RunItem, scenario: Scenario) -> str:
    label = f"[{item.index}/{item.total}] {item.variant.name}"
    if item.total > len(scenario.variants) or scenario.repeats > 1:
        label += f" (repeat {item.repeat})"
    return label


async def run_items(scenario: Scenario, plan: tuple[RunItem, ...], folder: RunFolder,
                    seams: Seams, writer: ManifestWriter, progress: Progress,
                    keep: bool = False) -> Ending:
    """Every planned variant run: ``complete``, ``incomplete``, or ``failed`` when a variant
    run ended failed without an error (a broken app: harness.run.broken_app); errors
    propagate."""
    writer.set_runtime_info(seams.runtime.describe())
    statuses, failures = [], []
    for item in plan:
        progress.variant_started(_label(item, scenario))
        run = VariantRunner(scenario, item, folder, seams, progress, keep=keep)
        writer.put_variant(run.record())
        try:
            await run.execute()
            run.finish("complete")
        except asyncio.CancelledError:
            run.finish("interrupted", "interrupted")
            raise
        except Exception as exc:
            run.finish("failed", _describe(exc))
            raise
        finally:
            record = run.record()
            writer.put_variant(record)
            statuses.append(record.status)
            if record.status == "failed" and record.error:
                failures.append(f"{item.variant.name}: {record.error}")
            progress.variant_finished(f"{item.variant.name}: {record.status}")
    if failures:
        return Ending("failed", "; ".join(failures), ExitCode.INCOMPLETE)
    if all(s == "complete" for s in statuses):
        return Ending("complete", None, ExitCode.OK)
    return Ending("incomplete", None, ExitCode.INCOMPLETE)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, HarnessError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


def _ending(exc: Exception, folder: RunFolder) -> Ending:
    if not isinstance(exc, HarnessError):
        log = folder.path / ERROR_LOG
        log.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        return Ending("failed", f"{_describe(exc)} (traceback in {log})", ExitCode.INCOMPLETE)
    code = exc.exit_code if isinstance(exc, AppError) else ExitCode.INCOMPLETE
    return Ending("failed", str(exc), code)


async def guarded(body: Coroutine[Any, Any, Ending], folder: RunFolder,
                  writer: ManifestWriter, progress: Progress) -> Ending:
    """Await ``body`` (a run's variant runs) the way every run ends: SIGINT/SIGTERM cancel
    it (``interrupted``), any error fails it (``failed``; a foreign error's traceback in
    ``error.log``), and the manifest is closed with the status whatever happens. ``run``
    and ``limit`` share it."""
    task = asyncio.current_task()
    assert task is not None
    stopper = _Stopper(task, progress)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopper, sig)
    ending = Ending("failed", "the run ended without a status", ExitCode.INCOMPLETE)
    try:
        ending = await body
    except asyncio.CancelledError:
        ending = Ending("interrupted", f"interrupted by {stopper.signal or 'cancellation'}",
                        ExitCode.INCOMPLETE)
    except Exception as exc:  # noqa: BLE001 - any error after the start ends the run as failed
        ending = _ending(exc, folder)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        writer.close(ending.status, ending.error)
    return ending


async def run_scenario(scenario: Scenario, options: RunOptions, seams: Seams,
                       progress: Progress) -> Ending:
    """Run every planned variant; always leaves a manifest with the final status."""
    folder = RunFolder(options.out)
    plan = make_plan(scenario, options.only, options.repeats)
    writer = ManifestWriter(folder, scenario, seams.runtime.name,
                            planned=tuple(dict.fromkeys(i.variant.name for i in plan)),
                            machine_id=options.machine_id)
    options.out.mkdir(parents=True, exist_ok=True)
    writer.write()
    return await guarded(run_items(scenario, plan, folder, seams, writer, progress,
                                   options.keep), folder, writer, progress)


def run(scenario: Scenario, options: RunOptions, seams: Seams,
        progress: Progress) -> RunOutcome:
    """Synchronous entry point: run the scenario in a fresh event loop, then finalise."""
    options = dataclasses.replace(options, out=options.out.absolute())
    ending = asyncio.run(run_scenario(scenario, options, seams, progress))
    summary = finalise(options.out, progress)
    code = ending.exit_code
    if code == 0 and summary.status != "complete":
        code = ExitCode.INCOMPLETE
    return RunOutcome(run_dir=options.out, status=summary.status, summary=summary,
                      error=ending.error, exit_code=code)
