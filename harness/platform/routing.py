"""Routing and queueing: which instance serves a request, and the queue when none can.

A request takes a free slot (``in_flight < instance_concurrency``) of a busy instance, else
the most recently used idle one (thawed if frozen). With none free it waits in the queue
(a ``Waiter``: a future the pool settles with an instance or with a ``Reply``: 429, 502,
503, 504). Whatever frees a slot first (a new instance, a finished request) serves the
queue's head. The indices hold ready instances only, never a draining one (past
``max_lifetime``) or a zombie.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable

from harness.platform.kind import Reply
from harness.platform.members import READY, Member

Waiter = asyncio.Future[Member | Reply]


class Router:
    """The idle and partly used instances, and the requests waiting for one."""

    def __init__(self, concurrency: int, assign: Callable[[Member], None]) -> None:
        self.concurrency = concurrency
        self.assign = assign  # takes one slot of the member (thaws it if frozen)
        self.idle: collections.OrderedDict[str, Member] = collections.OrderedDict()
        self.partial: dict[str, Member] = {}
        self.waiters: collections.deque[Waiter] = collections.deque()

    def acquire_now(self) -> Member | None:
        """A slot at once, if one is free and nobody is queued before us."""
        if self.waiters:
            return None
        if self.partial:
            member = next(iter(self.partial.values()))
        elif self.idle:
            _, member = self.idle.popitem(last=True)
        else:
            return None
        self._take(member)
        return member

    def enqueue(self) -> Waiter:
        waiter: Waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        return waiter

    def waiting(self) -> int:
        """Requests in the queue still waiting (not answered, not gone)."""
        return sum(1 for w in self.waiters if not w.done())

    def place(self, member: Member) -> None:
        """Put ``member`` in the index its state says (or in none)."""
        self.remove(member)
        if member.state != READY or member.draining:
            return
        if member.idle:
            self.idle[member.id] = member
        elif member.in_flight < self.concurrency:
            self.partial[member.id] = member

    def remove(self, member: Member) -> None:
        self.idle.pop(member.id, None)
        self.partial.pop(member.id, None)

    def idle_members(self) -> list[Member]:
        return list(self.idle.values())

    def dispatch(self, member: Member) -> None:
        """Give the queue's head requests to ``member`` while it has free slots."""
        while self.waiters and member.state == READY and not member.draining \
                and member.in_flight < self.concurrency:
            waiter = self.waiters.popleft()
            if waiter.done():
                continue
            self._take(member)
            waiter.set_result(member)

    def _take(self, member: Member) -> None:
        self.assign(member)
        self.place(member)

    def answer_first(self, reply: Reply) -> None:
        """Answer the first request still waiting (the one a failed start was made for)."""
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(reply)
                return

    def answer_all(self, reply: Reply) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(reply)
