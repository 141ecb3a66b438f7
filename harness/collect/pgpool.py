"""pgpool-II's children and their pools, through its control port (pcp), as ``pooler`` rows.

Each sample runs ``pcp_proc_info --all -v`` (one block per pool slot of every child: its
status, backend pid and whether the slot is in use) and reads the listen socket's accept
queue from ``/proc/net/tcp``. pcp, unlike ``SHOW POOL_PROCESSES`` through the pooler port,
does not take one of the ``num_init_children`` children away from the clients.

The same ``pooler`` frame as PgBouncer's, where the words mean the same thing:

- ``cl_active``: children serving a client (status other than "Wait for connection");
- ``cl_waiting``: clients in the listen backlog, accepted by the kernel but by no child
  (pgpool's only queue);
- ``sv_active``: cached backend connections of a slot in use by a client;
- ``sv_idle``: cached backend connections nobody is using;
- ``sv_used``, ``sv_login``: 0 (pgpool has no such states);
- ``maxwait_ms``: NaN — pgpool does not know how long a client waited in the backlog.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.collect.pgbouncer import POOL_COLUMNS
from harness.errors import ServiceError
from harness.runtime.pgpool import PcpAccess
from harness.runtime.ports import LOOPBACK

PCP_PROC_INFO = "/usr/sbin/pcp_proc_info"
IDLE_CHILD = "Wait for connection"
LISTEN = "0A"
POOL_DTYPES = {"database": "str", "user": "str", "maxwait_ms": "float64", "t": "float64"}


@dataclass(frozen=True)
class PoolSlot:
    """One block of ``pcp_proc_info -v``: a pool slot of one child."""

    pid: int
    status: str
    backend_pid: int
    connected: bool


def parse_proc_info(text: str) -> list[PoolSlot]:
    """The slots of ``pcp_proc_info --all -v`` output ("Key : value" lines, blank-separated)."""
    slots = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if "PID" in fields:
            slots.append(PoolSlot(
                pid=int(fields["PID"]), status=fields.get("Status", ""),
                backend_pid=int(fields.get("Backend PID") or 0),
                connected=fields.get("Connected") == "1"))
    return slots


def listen_backlog(tcp_table: str, port: int, host: str = LOOPBACK) -> int:
    """Connections waiting in the accept queue of the LISTEN socket on ``host:port``, from
    the text of ``/proc/net/tcp`` (``rx_queue`` of a listening socket); 0 when absent."""
    want = f"{_hex_ipv4(host)}:{port:04X}"
    for line in tcp_table.splitlines()[1:]:
        cols = line.split()
        if len(cols) > 4 and cols[1] == want and cols[3] == LISTEN:
            return int(cols[4].partition(":")[2], 16)
    return 0


def _hex_ipv4(host: str) -> str:
    return "".join(f"{int(part):02X}" for part in reversed(host.split(".")))


def pool_counts(slots: Iterable[PoolSlot], waiting: int) -> dict[str, int]:
    """cl_active, cl_waiting, sv_active, sv_idle of one sample (see the module's doc)."""
    slots = list(slots)
    busy = {s.pid for s in slots if s.status != IDLE_CHILD}
    cached = [s for s in slots if s.backend_pid > 0]
    active = sum(1 for s in cached if s.connected and s.pid in busy)
    return {"cl_active": len(busy), "cl_waiting": waiting, "sv_active": active,
            "sv_idle": len(cached) - active}


class PgpoolCollector:
    """Samples pgpool's children with pcp and its listen backlog."""

    name = "pgpool"
    interval_s: float | None = None

    def __init__(self, pcp: PcpAccess, port: int, *, interval_s: float | None = None,
                 binary: str = PCP_PROC_INFO, tcp_table: Path = Path("/proc/net/tcp"),
                 timeout_s: float = 5.0) -> None:
        self.pcp = pcp
        self.port = port
        self.interval_s = interval_s
        self.binary = binary
        self.tcp_table = tcp_table
        self.timeout_s = timeout_s
        self._rows: list[Mapping[str, float | int | str]] = []
        self._latest: dict[str, float] = {}

    async def _proc_info(self) -> str:
        argv = [self.binary, "-h", self.pcp.where, "-p", str(self.pcp.port),
                "-U", self.pcp.user, "-w", "--all", "-v"]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PCPPASSFILE": str(self.pcp.passfile)})
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            raise ServiceError("pgpool", f"pcp_proc_info: {err.decode().strip()[:200]}")
        return out.decode()

    async def start(self) -> None:
        await self._proc_info()

    async def sample(self, t: float) -> None:
        slots = parse_proc_info(await self._proc_info())
        waiting = listen_backlog(self.tcp_table.read_text(), self.port)
        counts = pool_counts(slots, waiting)
        self._rows.append({"t": t, "database": "*", "user": "*", **counts, "sv_used": 0,
                           "sv_login": 0, "maxwait_ms": math.nan})
        self._latest = {f"pooler.{k}": float(v) for k, v in counts.items()}

    async def stop(self) -> None:
        """Nothing held between samples."""

    def frames(self) -> dict[str, pd.DataFrame]:
        frame = pd.DataFrame(self._rows, columns=list(POOL_COLUMNS))
        dtypes = {c: POOL_DTYPES.get(c, "int64") for c in POOL_COLUMNS}
        return {"pooler": frame.astype(dtypes)}

    def latest(self) -> dict[str, float]:
        return dict(self._latest)
