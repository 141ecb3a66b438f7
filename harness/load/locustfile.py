"""The locustfile of pgstampede's own requests: runs only inside the Locust subprocess.

Importing locust monkey-patches the process with gevent, so nothing else in the harness
imports this module; ``harness.load.runner`` starts ``python -m locust -f <this file>``.
``HarnessUser`` sends the plan's weighted requests (``[load] endpoints`` or ``paths``, with
their headers and JSON bodies), waits the think time in between, and marks every non-2xx
response as a Locust failure; an ``events`` request stays subscribed for
``subscribe_duration`` instead (harness.load.subscriber, the realtime log; over SSE or the
WebSocket twin, ``[load] subscribe_transport``). ``SubscriberUser`` is ``[load]
subscribers``: users subscribed the whole run, added to each stage's users. The load shape,
the request log and the progress file come from ``harness.load.locust_plugin`` (imported
here, so Locust finds ``StagesShape``).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, ClassVar

from locust import FastHttpUser, events, task
from locust.clients import HttpSession
from locust.env import Environment

from harness.load.config import LoadConfig, load_config_from_env, send_options
from harness.load.locust_plugin import StagesShape
from harness.load.realtime_log import RealtimeLogWriter
from harness.load.subscriber import SseTransport, Subscriber, Transport, WsTransport

__all__ = ["HarnessUser", "StagesShape", "SubscriberUser"]
WHOLE_RUN_S = 10 * 365 * 86400.0  # a subscriber's window: until Locust stops the user


class HarnessUser(FastHttpUser):
    """Sends the plan's weighted requests; the plan is set in the ``init`` event."""

    plan: ClassVar[LoadConfig | None] = None
    realtime_log: ClassVar[RealtimeLogWriter | None] = None
    _stream_session: HttpSession | None = None

    def wait_time(self) -> float:
        return self.plan.think_time(random.random()) if self.plan else 0.0

    @task
    def send(self) -> None:
        if self.plan is None:
            return
        spec = self.plan.pick(random.random())
        if spec.name == "events":
            self._subscribe(self.plan, spec.path)
            return
        with self.client.request(
            spec.method, spec.path, name=spec.name, catch_response=True, **send_options(spec)
        ) as resp:
            status = int(resp.status_code or 0)
            if status and not 200 <= status < 300:
                resp.failure(f"HTTP {status}")


    def _subscribe(self, plan: LoadConfig, path: str) -> None:
        """An ``events`` request: stay subscribed for ``subscribe_duration``."""
        if self.realtime_log is None:
            return
        Subscriber(self.transport(plan), self.realtime_log).run(plan.subscribe_duration_s, path)

    def transport(self, plan: LoadConfig) -> Transport:
        """How this user subscribes: ``[load] subscribe_transport``."""
        if plan.subscribe_transport == "websocket":
            return WsTransport(self.host or "", self.environment.events.request.fire,
                               "events", plan.request_timeout_s)
        if self._stream_session is None:
            self._stream_session = HttpSession(base_url=self.host or "",
                                               request_event=self.environment.events.request,
                                               user=self)
        return SseTransport(self._stream_session, "events", plan.request_timeout_s)


class SubscriberUser(HarnessUser):
    """``[load] subscribers``: a population of its own, subscribed to ``/events`` for the
    whole run and reconnecting as a real client does (at once after a cut, ``RETRY_S``
    after a refusal); added by the ``init`` event when the plan asks for any (fixed count,
    spawned before the request users, on top of each stage's users)."""

    abstract = True  # not discovered: on_init enables it

    @task
    def send(self) -> None:
        if self.plan is not None and self.realtime_log is not None:
            Subscriber(self.transport(self.plan), self.realtime_log).run(WHOLE_RUN_S)


def on_init(environment: Environment, **_: Any) -> None:
    plan = load_config_from_env()
    HarnessUser.plan = plan
    HarnessUser.realtime_log = RealtimeLogWriter(Path(plan.out_dir))
    HarnessUser.network_timeout = plan.request_timeout_s
    HarnessUser.connection_timeout = plan.request_timeout_s
    if plan.subscribers and not plan.locustfile:
        SubscriberUser.fixed_count = plan.subscribers
        if SubscriberUser not in environment.user_classes:
            environment.user_classes.append(SubscriberUser)


def on_quitting(environment: Environment, **_: Any) -> None:
    if HarnessUser.realtime_log is not None:
        HarnessUser.realtime_log.close()


events.init.add_listener(on_init)  # type: ignore[no-untyped-call]
events.quitting.add_listener(on_quitting)  # type: ignore[no-untyped-call]
