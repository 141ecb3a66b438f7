"""The master's side of distributed load: a small HTTP control channel for pgstampede workers.

``pgstampede run --workers N --bind ADDRESS:PORT`` serves it on ``ADDRESS:PORT`` (Locust's
own master listens on ``PORT + 1``). Each ``pgstampede worker --master ADDRESS:PORT``
(``harness.load.worker``) talks to it over plain HTTP/JSON, so the worker needs no Locust until a
variant starts:

- ``GET /v1/poll?worker=NAME&host=H&cores=C`` — a worker says it is alive and idle; the answer
  is ``{"state": "wait"}``, ``{"state": "done"}`` (the run is over), or a variant to run:
  ``{"state": "variant", "id", "locust_port", "plan"}`` (the load plan, ``LoadConfig`` JSON);
- ``POST /v1/beat/ID/NAME`` — while its Locust worker runs, about once a second, with the CPU
  samples of its host since the last beat (``[[t, host_cpu_percent, locust_cpu_percent,
  locust_wait_percent], ...]``): CPU figures survive a worker that dies later;
- ``PUT /v1/upload/ID/NAME/requests-PID.csv`` — its request log, streamed in chunks to
  ``<out_dir>/requests-NAME-PID.csv`` (where the usual merge reads it);
- ``POST /v1/done/ID/NAME`` — ``{"locust_rc", "files"}``: the worker is done with the variant.

Every body is a record of :mod:`harness.load.messages`, through the one codec
(:mod:`harness.results.codec`): a body that does not hold one is answered 400 naming the field.

Everything is kept in memory under one lock; the server runs in a daemon thread.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harness.errors import InputError
from harness.load.messages import (
    Ack,
    Beat,
    CpuSample,
    DoneReport,
    PollReply,
    Refusal,
    RunOver,
    VariantOffer,
    Wait,
)
from harness.results.codec import DecodeError, decode, encode

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
LOG_RE = re.compile(r"^requests-([0-9]{1,10})\.csv$")
ALIVE_S = 5.0  # a worker not heard of for this long is gone
CHUNK_BYTES = 1 << 20
WORKER_ENV = "PGSTAMPEDE_WORKER_NAME"  # a Locust worker's pgstampede worker name
WORKERS_FILE = "locust_workers.json"  # the Locust master's per-worker totals (locust_workers)

@dataclass
class WorkerSeen:
    """What the coordinator knows of one worker (mutable, under the lock)."""

    name: str
    host: str = ""
    address: str = ""  # the address it polls from
    cores: int = 0
    last_heard: float = 0.0  # monotonic
    variant: int | None = None  # the variant it is running, if any


@dataclass
class WorkerOutcome:
    """One worker's part in one variant (mutable while the variant runs)."""

    name: str
    host: str = ""
    address: str = ""
    cores: int = 0
    cpu: list[CpuSample] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    last_heard: float = 0.0  # epoch seconds
    done: bool = False
    locust_rc: int | None = None


@dataclass
class Offer:
    id: int
    plan: dict[str, Any]
    locust_port: int
    out_dir: Path
    wanted: int
    taken: dict[str, WorkerOutcome] = field(default_factory=dict)


class Coordinator:
    """Serves the control channel on ``host:port`` while used as a context manager."""

    def __init__(self, host: str, port: int, *, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.host, self.port = host, port
        self.clock = clock
        self.lock = threading.Lock()
        self.workers: dict[str, WorkerSeen] = {}
        self.offer: Offer | None = None
        self.known: dict[int, Offer] = {}  # variants whose beats, uploads and done count
        self.finished = False
        self._next_id = 1
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Coordinator:
        try:
            server = _Server((self.host, self.port), _Handler)
        except OSError as exc:
            raise InputError(f"--bind {self.host}:{self.port}: cannot listen "
                             f"({exc.strerror or exc})") from None
        server.coordinator = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="coordinator",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, linger_s: float = 0.0) -> None:
        """Tell polling workers the run is over (for ``linger_s``), then stop serving."""
        with self.lock:
            self.finished = True
            self.offer = None
        if linger_s > 0:
            time.sleep(linger_s)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---- what the run asks ------------------------------------------------------------------

    def idle_workers(self) -> list[str]:
        """Workers heard of in the last ``ALIVE_S`` seconds and not running a variant."""
        now = self.clock()
        with self.lock:
            return sorted(w.name for w in self.workers.values()
                          if w.variant is None and now - w.last_heard <= ALIVE_S)

    def open_offer(self, plan: dict[str, Any], locust_port: int, out_dir: Path,
                   wanted: int) -> Offer:
        """Offer a variant to the next ``wanted`` workers that poll."""
        with self.lock:
            offer = Offer(id=self._next_id, plan=plan, locust_port=locust_port,
                          out_dir=out_dir, wanted=wanted)
            self._next_id += 1
            self.offer = offer
            self.known[offer.id] = offer
            return offer

    def close_offer(self) -> None:
        """No more workers join the current variant."""
        with self.lock:
            self.offer = None

    def pending(self, offer: Offer) -> list[str]:
        """Workers of ``offer`` still running it: not done and heard of recently."""
        now = self.clock()
        with self.lock:
            out = []
            for name, outcome in offer.taken.items():
                seen = self.workers.get(name)
                alive = seen is not None and now - seen.last_heard <= ALIVE_S
                if not outcome.done and alive:
                    out.append(name)
            return out

    # ---- what workers say (called from the server's threads) -----------------------------

    def poll(self, name: str, host: str, cores: int, address: str = "") -> PollReply:
        with self.lock:
            seen = self.workers.setdefault(name, WorkerSeen(name=name))
            seen.host, seen.cores, seen.last_heard = host, cores, self.clock()
            seen.address = address
            seen.variant = None
            if self.finished:
                return RunOver()
            offer = self.offer
            if offer is None or name in offer.taken or len(offer.taken) >= offer.wanted:
                return Wait()
            offer.taken[name] = WorkerOutcome(name=name, host=host, address=address,
                                              cores=cores, last_heard=time.time())
            seen.variant = offer.id
            return VariantOffer(id=offer.id, locust_port=offer.locust_port, plan=offer.plan)

    def _outcome(self, offer_id: int, name: str) -> WorkerOutcome | None:
        """The worker's outcome in a known variant; also marks it heard of (under lock)."""
        seen = self.workers.get(name)
        if seen is not None:
            seen.last_heard = self.clock()
        offer = self.known.get(offer_id)
        return None if offer is None else offer.taken.get(name)

    def forget(self, offer: Offer) -> None:
        """Beats, uploads and done of ``offer`` are refused from now on."""
        with self.lock:
            self.known.pop(offer.id, None)

    def beat(self, offer_id: int, name: str, cpu: list[CpuSample]) -> bool:
        with self.lock:
            outcome = self._outcome(offer_id, name)
            if outcome is None:
                return False
            outcome.cpu.extend(cpu)
            outcome.last_heard = time.time()
            return True

    def log_path(self, offer_id: int, name: str, filename: str) -> Path | None:
        """Where worker ``name``'s log ``filename`` goes (None: unknown variant or name)."""
        match = LOG_RE.match(filename)
        with self.lock:
            outcome = self._outcome(offer_id, name)
            offer = self.known.get(offer_id)
            if match is None or outcome is None or offer is None:
                return None
            path = offer.out_dir / f"requests-{name}-{match.group(1)}.csv"
            outcome.logs.append(path.name)
            return path

    def done(self, offer_id: int, name: str, report: DoneReport) -> bool:
        with self.lock:
            outcome = self._outcome(offer_id, name)
            if outcome is None:
                return False
            outcome.done = True
            outcome.last_heard = time.time()
            outcome.locust_rc = report.locust_rc
            seen = self.workers.get(name)
            if seen is not None:
                seen.variant = None
            return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    coordinator: Coordinator


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def _reply(self, status: int, body: PollReply | Ack | Refusal) -> None:
        data = json.dumps(encode(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _parts(self) -> list[str]:
        return [p for p in urlsplit(self.path).path.split("/") if p]

    def _ids(self, parts: list[str]) -> tuple[int, str] | None:
        if len(parts) < 4 or not parts[2].isdigit() or not NAME_RE.match(parts[3]):
            return None
        return int(parts[2]), parts[3]

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        query = parse_qs(urlsplit(self.path).query)
        name = (query.get("worker") or [""])[0]
        if self._parts() != ["v1", "poll"] or not NAME_RE.match(name):
            self._reply(404, Refusal("GET /v1/poll?worker=NAME"))
            return
        cores = (query.get("cores") or ["0"])[0]
        host = (query.get("host") or [""])[0][:255]
        self._reply(200, self.server.coordinator.poll(
            name, host, int(cores) if cores.isdigit() else 0, str(self.client_address[0])))

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        parts = self._parts()
        ids = self._ids(parts)
        if ids is None or parts[1] not in ("beat", "done"):
            self._reply(400, Refusal("POST /v1/beat|done/ID/NAME with a JSON object"))
            return
        coordinator, source = self.server.coordinator, f"{parts[1]} of worker {ids[1]}"
        try:
            body = json.loads(self._body() or b"{}")
            if parts[1] == "done":
                ok = coordinator.done(*ids, decode(DoneReport, body, source, defaults=True))
            else:
                cpu = decode(Beat, body, source, defaults=True).cpu
                ok = coordinator.beat(*ids, list(cpu))
        except (ValueError, DecodeError) as exc:
            self._reply(400, Refusal(str(exc)))
            return
        self._reply(200 if ok else 410, Ack(ok))

    def do_PUT(self) -> None:  # noqa: N802 - the stdlib's name
        parts = self._parts()
        ids = self._ids(parts)
        length = int(self.headers.get("Content-Length") or 0)
        path = None
        if ids is not None and len(parts) == 5 and parts[1] == "upload":
            path = self.server.coordinator.log_path(*ids, parts[4])
        if path is None:
            self.rfile.read(length)
            self._reply(410, Refusal("unknown variant, worker or file name"))
            return
        with path.open("wb") as f:
            while length > 0:
                chunk = self.rfile.read(min(CHUNK_BYTES, length))
                if not chunk:
                    break
                f.write(chunk)
                length -= len(chunk)
        self._reply(200 if length == 0 else 400, Ack(length == 0))
