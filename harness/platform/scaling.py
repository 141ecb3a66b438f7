"""Scaling: how many cold starts the queue gets, and when a request is turned away.

A cold start is made for each ``instance_concurrency`` requests waiting beyond what the
instances already starting will take, while ``max_instances`` (zombies not counted) and the
``scale_rate`` token bucket (burst = one second's worth, harness.platform.bucket) allow;
when the bucket is empty a timer on the pool's clock retries once a token is due. With
``when_full = "reject"``, a request that finds ``max_instances`` reached and no starting
instance to wait for is throttled (429) instead of queued.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from harness.clock import Clock, Timer
from harness.platform.bucket import TokenBucket
from harness.platform.config import PlatformConfig


class Capacity(Protocol):
    """What scaling needs of the lifecycle."""

    @property
    def starting(self) -> int: ...

    def live(self) -> int:
        """Instances that count against max_instances (all but zombies)."""
        ...

    def start_member(self) -> None: ...


class Scaler:
    def __init__(self, config: PlatformConfig, clock: Clock, capacity: Capacity,
                 waiting: Callable[[], int]) -> None:
        self.config = config
        self.clock = clock
        self.capacity = capacity
        self.waiting = waiting  # requests queued and still waiting
        self.bucket = TokenBucket(config.scale_rate, max(1.0, config.scale_rate),
                                  clock.monotonic())
        self.timer: Timer | None = None
        self.closed = False

    def can_grow(self) -> bool:
        return self.capacity.live() < self.config.max_instances

    def must_reject(self, queued: int) -> bool:
        """Throttle a request that would be queued behind ``queued`` others?"""
        spare = self.capacity.starting * self.config.instance_concurrency - queued
        return spare <= 0 and not self.can_grow() and self.config.when_full == "reject"

    def scale(self) -> None:
        """Start as many instances as the queue needs, within max_instances and scale_rate."""
        if self.closed:
            return
        need = self.waiting() - self.capacity.starting * self.config.instance_concurrency
        while need > 0 and self.can_grow():
            now = self.clock.monotonic()
            if not self.bucket.take(now):
                if self.timer is None:
                    delay = max(0.001, self.bucket.wait_s(now))
                    self.timer = self.clock.call_later(delay, self._rescale)
                return
            self.capacity.start_member()
            need -= self.config.instance_concurrency

    def _rescale(self) -> None:
        self.timer = None
        self.scale()

    def close(self) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
