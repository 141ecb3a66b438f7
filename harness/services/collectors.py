"""The collectors that watch a variant's services: the database, the host's processes by
role, the server log, the pooler, and the target's own (the platform's)."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from harness.collect.base import Collector
from harness.collect.host import HostCollector
from harness.collect.pg_activity import PgActivityCollector
from harness.collect.pg_log import PgLogCollector
from harness.collect.pgbouncer import PgBouncerCollector
from harness.runtime.pinning import Pinner
from harness.services.bring_up import Services


def is_locust(cmdline: list[str]) -> bool:
    """``python -m locust ...`` (how harness.load.runner starts it) or the ``locust`` script.

    Exact words, not substrings: a run folder or temp path containing "locust" in another
    service's command line (postgres -D, a target's log path) must not count as Locust.
    """
    if cmdline[1:3] == ["-m", "locust"]:
        return True
    return any(Path(part).name == "locust" for part in cmdline[:2])


def locust_pids() -> list[int]:
    """The Locust processes this harness started: its direct children running Locust.

    ``--processes`` workers are forked by that process; the host collector adds every
    descendant of a root, so the workers are counted without listing them here (and the
    serverless instances, grandchildren, are not scanned every sample).
    """
    found = []
    for child in psutil.Process().children(recursive=False):
        try:
            if is_locust(child.cmdline()):
                found.append(child.pid)
        except psutil.Error:
            continue
    return found


def standard_collectors(services: Services) -> list[Collector]:
    """The collectors of a variant run: database, host, server log, pooler, target's own."""
    roles = {**services.roles, "locust": locust_pids}
    pinner = Pinner(services.pin) if services.pin is not None else None
    collectors: list[Collector] = [PgActivityCollector(services.monitor_dsn),
                             HostCollector(roles, pinner=pinner)]
    if services.pg_log is not None:
        collectors.append(PgLogCollector(services.pg_log, since_t=time.time()))
    if services.pooler_admin_dsn:
        collectors.append(PgBouncerCollector(services.pooler_admin_dsn))
    collectors.extend(services.pooler_collectors)
    collectors.extend(services.target.collectors)
    return collectors
