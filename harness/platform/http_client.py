"""HTTP/1.1 to an instance listening on its own port (a command app): one keep-alive
connection, one request at a time.

The request goes as the gateway received it (method, raw path and query, the client's
headers but the hop-by-hop ones, the body with its length); the response is read whole:
status, headers (names lower case) and the body, by ``Content-Length``, chunked, or until
the instance closes the connection. ``StaleConnection``: a reused connection was closed by
the instance before any byte of an answer (an idle keep-alive connection it timed out, e.g.
Node's 5 s): the request was not read, and may be sent again on a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from harness.apphost.wire import Header, HttpRequest

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                        "upgrade", "te", "trailer", "proxy-connection"})
NO_BODY = frozenset({204, 304})
MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024


class HttpError(Exception):
    """The instance's answer was not HTTP/1.x, or was cut."""


class StaleConnection(HttpError):
    """A reused connection closed before the first byte of the answer."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: tuple[Header, ...]
    body: bytes
    keep_alive: bool


class HttpConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = False  # served a request already (so it may have gone stale)

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD)
        return cls(reader, writer)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closing already
            self.writer.close()

    async def request(self, req: HttpRequest, host: str) -> HttpAnswer:
        reused, self.used = self.used, True
        self.writer.write(encode_request(req, host))
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            partial = getattr(exc, "partial", b"")
            if reused and not partial:
                raise StaleConnection("closed before answering") from None
            raise HttpError(f"connection closed before the answer's head ({exc!r})") from None
        except asyncio.LimitOverrunError:
            raise HttpError(f"answer head larger than {MAX_HEAD} bytes") from None
        status, version, headers = parse_head(head)
        while 100 <= status < 200 and status != 101:  # interim answers: the real one follows
            status, version, headers = parse_head(await self.reader.readuntil(b"\r\n\r\n"))
        body, until_close = await self._body(req.method, status, headers)
        fields = dict(headers)
        keep = version == "HTTP/1.1" and not until_close \
            and "close" not in fields.get("connection", "").lower()
        return HttpAnswer(status, headers, body, keep)

    async def _body(self, method: str, status: int, headers: tuple[Header, ...]
                    ) -> tuple[bytes, bool]:
        """The body, and whether it ran until the connection closed."""
        fields = dict(headers)
        if method == "HEAD" or status in NO_BODY or 100 <= status < 200:
            return b"", False
        if "chunked" in fields.get("transfer-encoding", "").lower():
            return await self._chunked(), False
        if "content-length" in fields:
            try:
                length = int(fields["content-length"])
            except ValueError:
                raise HttpError(f"bad content-length {fields['content-length']!r}") from None
            if length > MAX_BODY:
                raise HttpError(f"answer body of {length} bytes exceeds {MAX_BODY}")
            return await self._exactly(length), False
        return await self.reader.read(MAX_BODY), True

    async def _exactly(self, n: int) -> bytes:
        try:
            return await self.reader.readexactly(n)
        except asyncio.IncompleteReadError as exc:
            raise HttpError(f"answer cut after {len(exc.partial)} of {n} body bytes") from None

    async def _chunked(self) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            line = await self.reader.readuntil(b"\r\n")
            try:
                n = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HttpError(f"bad chunk size {line[:20]!r}") from None
            if n == 0:
                while await self.reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                return b"".join(parts)
            size += n
            if size > MAX_BODY:
                raise HttpError(f"answer body exceeds {MAX_BODY} bytes")
            parts.append(await self._exactly(n))
            await self._exactly(2)


def encode_request(req: HttpRequest, host: str) -> bytes:
    target = req.raw_path or req.path
    if req.query:
        target = f"{target}?{req.query}"
    lines = [f"{req.method} {target} HTTP/1.1"]
    names = set()
    for name, value in req.headers:
        lower = name.lower()
        if lower in HOP_BY_HOP:
            continue
        names.add(lower)
        lines.append(f"{name}: {value}")
    if "host" not in names:
        lines.append(f"host: {host}")
    if req.body or req.method in ("POST", "PUT", "PATCH"):
        lines.append(f"content-length: {len(req.body)}")
    lines.append("connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + req.body


def parse_head(head: bytes) -> tuple[int, str, tuple[Header, ...]]:
    """(status, HTTP version, headers with lower-case names) of an answer's head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise HttpError(f"bad header line {line[:80]!r}")
        headers.append((name.strip().lower(), value.strip()))
    return int(parts[1]), parts[0], tuple(headers)
