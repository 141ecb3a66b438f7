"""Work an app is still doing when its response is complete: pending units and their fate.

A response is complete at its last byte (ASGI: the last ``http.response.body``; WSGI: the
response iterable exhausted). The ASGI host then lets the event loop turn ``SETTLE_TURNS``
times (so that a call merely unwinding its middleware is not counted) and looks for work
still running:

- ASGI: the application call itself if it has not returned (Starlette/FastAPI
  ``BackgroundTasks`` run there), and every task created during the request
  (``asyncio.create_task``, attributed through a context variable) that is not done;
- WSGI: the iterable's ``close()`` still running (after a few milliseconds' grace: threads
  do not take turns with the event loop; harness.apphost.wsgi).

If there is any, the response has one *unit* of background work, which ends when all of it
has ended (so that a request counts once, however its framework splits the work into tasks).
The response frame carries the count (0 or 1); the unit's end is reported to the gateway with
how long after the response it finished and whether the instance was thawed (SIGCONT) in
between: frozen work completes late or, if the instance is reaped first, never.
"""

from __future__ import annotations

import asyncio
import contextvars
import signal
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

SETTLE_TURNS = 8

REQUEST: contextvars.ContextVar[int] = contextvars.ContextVar("pgstampede_request", default=0)
"""The id of the request whose handling created the current task (0: none)."""

Report = Callable[[int, float, bool], None]
Raised = Callable[[BaseException], None]


class Thaws:
    """Counts SIGCONTs: the number of times this process was thawed."""

    count = 0

    @classmethod
    def install(cls) -> None:
        signal.signal(signal.SIGCONT, cls._on_cont)

    @classmethod
    def _on_cont(cls, signum: int, frame: object) -> None:
        cls.count += 1


class Background:
    """Attributes tasks to requests and reports when a response's pending units finish."""

    def __init__(self, report: Report, raised: Raised = lambda exc: None) -> None:
        self.report = report
        self.raised = raised  # an unhandled exception escaped the app (called on the loop)
        self.created: dict[int, list[asyncio.Future[Any]]] = {}
        self.watched: set[asyncio.Future[Any]] = set()

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.set_task_factory(self._factory)

    def _factory(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
                 ) -> asyncio.Future[Any]:
        task: asyncio.Future[Any] = asyncio.Task(coro, loop=loop, **kwargs)
        tasks = self.created.get(REQUEST.get())
        if tasks is not None:
            tasks.append(task)
        return task

    def open(self, msg_id: int) -> None:
        """Start attributing tasks created with ``REQUEST`` = ``msg_id``."""
        self.created[msg_id] = []

    def close(self, msg_id: int) -> list[asyncio.Future[Any]]:
        """Stop attributing; the request's tasks that are still running."""
        return [t for t in self.created.pop(msg_id, []) if not t.done()]

    def watch(self, msg_id: int, running: Iterable[asyncio.Future[Any]],
              since: float | None = None) -> int:
        """Report the end of the work still ``running`` after a response (all of it: one
        unit), counted from ``since`` (``time.perf_counter()`` at the response; default now);
        the number of units (0 or 1)."""
        work = list(running)
        if not work:
            return 0
        since = time.perf_counter() if since is None else since
        unit = asyncio.gather(*work, return_exceptions=True)
        self.watched.add(unit)
        unit.add_done_callback(self._done_callback(msg_id, since, Thaws.count))
        return 1

    def _done_callback(
        self, msg_id: int, since: float, thaws: int
    ) -> Callable[[asyncio.Future[Any]], None]:
        def done(unit: asyncio.Future[Any]) -> None:
            self.watched.discard(unit)
            results = [] if unit.cancelled() else unit.result()
            for exc in results:
                if isinstance(exc, Exception):
                    traceback.print_exception(type(exc), exc, exc.__traceback__)
                    self.raised(exc)
            self.report(msg_id, (time.perf_counter() - since) * 1000.0, Thaws.count > thaws)

        return done


async def settle() -> None:
    """Let the event loop turn a few times (see the module docstring)."""
    for _ in range(SETTLE_TURNS):
        await asyncio.sleep(0)
