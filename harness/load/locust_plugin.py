"""pgstampede's part of every Locust run: the load shape, the request log and progress.

Runs only inside the Locust subprocess (importing locust patches the process with gevent).
It is loaded beside the Locust file that says which requests to send: pgstampede's own
(``harness.load.locustfile``, which imports it) or the user's own file, unchanged (``[load]
locustfile``): ``harness.load.runner`` then starts ``locust -f <this file>,<user's file>``,
this file first so that its shape drives the user count even if the user's file has one.

The load plan (``harness.load.config.LoadConfig``) comes from ``PGSTAMPEDE_LOAD_CONFIG``
(JSON) or ``PGSTAMPEDE_LOAD_CONFIG_FILE`` (path), read in the ``init`` event. Then:

- every request of every User class is logged by Locust's ``request`` event to
  ``requests-<pid>.csv`` (one file per Locust process; switched off by
  ``request_log = false`` for the overhead benchmark);
- ``StagesShape`` follows the stages and stops Locust at their end (or earlier, when the
  harness asks: ``harness.load.shape.request_stop``);
- the process that drives the shape writes ``progress.jsonl`` about every second, and when
  Locust quits rewrites Locust's ``<csv prefix>_stats.csv`` with the final totals (Locust
  itself refreshes that file once a second only, so its last second would be missing).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any, Literal

import gevent
from locust import LoadTestShape, events
from locust import log as locust_log
from locust.env import Environment
from locust.runners import Runner, WorkerRunner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

from harness.load import locust_workers
from harness.load.config import LoadConfig, load_config_from_env
from harness.load.outcome import classify
from harness.load.progress import (
    PROGRESS_FILE,
    LocustProgress,
    ProgressWriter,
    ShapeEvent,
)
from harness.load.request_log import RequestLogWriter
from harness.load.shape import shape_tick, stage_index, stop_requested


class StagesShape(LoadTestShape):
    """Users and spawn rate from the plan's stages; None (stop) after the last one."""

    plan: LoadConfig | None = None
    progress: ProgressWriter | None = None
    stage: int = -1
    started: bool = False

    def tick(self) -> tuple[int, float] | None:
        if self.plan is None:
            return None
        run_time = float(self.get_run_time())  # type: ignore[no-untyped-call]
        if not self.started:
            self.started = True
            self._record("start", time.time() - run_time)
        subscribers = 0 if self.plan.locustfile else self.plan.subscribers
        current = None if stop_requested(self.plan.out_dir) else shape_tick(
            self.plan.stages, run_time, subscribers)
        index = stage_index(self.plan.stages, run_time)
        self.stage = -1 if index is None else index
        if current is None:
            self._record("end", time.time())
        return current

    def _record(self, event: Literal["start", "end"], t: float) -> None:
        if self.progress is not None:
            self.progress.write(ShapeEvent(event=event, t=t))


def _request_listener(log: RequestLogWriter) -> Any:
    """The ``request`` event listener writing one row per request (kept lean: hot path).

    A response with a body of known length (Locust's ``response_length``: the body it read,
    or the declared length of a streamed one) is classified from its content at once; only
    one without (empty, or a stream such as server-sent ``events``) is asked whether it is
    an event stream, whose content must not be read (that would wait for the stream's end).
    """
    write = log.write

    def on_request(
        name: str,
        response_time: float,
        response: Any,
        exception: BaseException | None,
        start_time: float,
        response_length: int = 0,
        **_: Any,
    ) -> None:
        status: int = getattr(response, "status_code", 0) or 0
        if not status:
            outcome = classify(0, None, exception or getattr(response, "error", None))
        elif response_length or not _streamed(response):
            outcome = classify(status, response.content, None)
        else:
            outcome = classify(status, None, None)
        write(start_time, name, response_time, status, outcome)

    return on_request


def _streamed(response: Any) -> bool:
    """A server-sent event stream (``events``): reading its content would wait for its end."""
    headers = getattr(response, "headers", None) or {}
    return str(headers.get("content-type", "")).startswith("text/event-stream")


def _progress(runner: Runner, shape: StagesShape | None) -> LocustProgress:
    total = runner.stats.total
    return LocustProgress(
        t=time.time(),
        users=int(runner.user_count),
        requests=int(total.num_requests),
        failures=int(total.num_failures),
        stage=shape.stage if shape is not None else -1,
    )


def _ticker(
    interval_s: float, log: RequestLogWriter, runner: Runner, progress: ProgressWriter | None
) -> None:
    """Every ``interval_s``: flush this process's request log, write a progress line."""
    shape = runner.environment.shape_class
    while True:
        gevent.sleep(interval_s)
        log.flush()
        if progress is not None:
            progress.write(_progress(runner, shape if isinstance(shape, StagesShape) else None))


def _rewrite_stats_csv(environment: Environment, prefix: str) -> None:
    """Rewrite ``<prefix>_stats.csv`` from the final stats (Locust's own columns)."""
    with Path(f"{prefix}_stats.csv").open("w", newline="", encoding="utf-8") as f:
        StatsCSV(environment, PERCENTILES_TO_REPORT).requests_csv(csv.writer(f))


def on_init(environment: Environment, runner: Runner, **_: Any) -> None:
    plan = load_config_from_env()
    out_dir = Path(plan.out_dir)
    is_worker = isinstance(runner, WorkerRunner)
    progress = None if is_worker else ProgressWriter(out_dir / PROGRESS_FILE)
    shape = environment.shape_class
    if isinstance(shape, StagesShape):
        shape.plan = plan
        shape.progress = progress
    log = RequestLogWriter(out_dir)
    if plan.request_log:
        environment.events.request.add_listener(_request_listener(log))  # type: ignore[no-untyped-call]
    ticker = gevent.spawn(_ticker, plan.progress_interval_s, log, runner, progress)
    locust_workers.attach(environment, runner, out_dir)  # distributed: per-worker totals
    csv_prefix = getattr(environment.parsed_options, "csv_prefix", None)

    def on_quitting(environment: Environment, **_: Any) -> None:
        ticker.kill(block=False)
        log.close()
        if progress is not None:
            progress.write(_progress(runner, shape if isinstance(shape, StagesShape) else None))
        if csv_prefix and not is_worker:
            _rewrite_stats_csv(environment, str(csv_prefix))
        if runner.exceptions or locust_log.unhandled_greenlet_exception:
            environment.process_exit_code = 2

    environment.events.quitting.add_listener(on_quitting)  # type: ignore[no-untyped-call]


events.init.add_listener(on_init)  # type: ignore[no-untyped-call]
