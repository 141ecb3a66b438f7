"""A small, complete server-sent events parser (the WHATWG "event stream" format).

Fed the body of a ``text/event-stream`` response in chunks of any size, it yields each event
once its terminating blank line has arrived: lines end with CRLF, LF or CR; ``:`` starts a
comment; ``data`` lines are joined with LF; an event without data is not dispatched; the
field name is everything before the first ``:`` and one space after it is dropped. Pure (no
I/O), so the Locust subscriber and the tests share it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    event: str
    data: str
    id: str = ""


class SseParser:
    """Incremental parser: ``feed`` bytes, get the events they complete."""

    def __init__(self) -> None:
        self._buffer = ""
        self._decoder_tail = b""
        self._event = ""
        self._data: list[str] = []
        self._id = ""
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[Event]:
        data = self._decoder_tail + chunk
        try:
            text = data.decode("utf-8")
            self._decoder_tail = b""
        except UnicodeDecodeError as exc:  # a multi-byte character split between chunks
            text = data[: exc.start].decode("utf-8")
            self._decoder_tail = data[exc.start:]
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]
        self._pending_cr = text.endswith("\r")
        self._buffer += text
        events: list[Event] = []
        lines = self._buffer.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._buffer = lines.pop()
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> Event | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> Event | None:
        event, data = self._event or "message", self._data
        self._event, self._data = "", []
        if not data:
            return None
        return Event(event, "\n".join(data), self._id)
