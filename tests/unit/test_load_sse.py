"""The server-sent events parser: framing, fields, chunk boundaries."""

from __future__ import annotations

import pytest

from harness.load.sse import Event, SseParser

STREAM = (
    b": comment\n"
    b"event: ready\ndata: {\"after_id\": 3}\n\n"
    b"data: one\r\ndata: two\r\nid: 7\r\n\r\n"
    b"event: empty\n\n"
    b"data:no-space\rdata:  two spaces\r\r"
    b"event: message\ndata: {\"id\":4,\"t\":1.5}\n\n"
)
EXPECTED = [
    Event("ready", '{"after_id": 3}'),
    Event("message", "one\ntwo", "7"),
    Event("message", "no-space\n two spaces", "7"),
    Event("message", '{"id":4,"t":1.5}', "7"),
]


def test_whole_stream_yields_every_dispatched_event() -> None:
    assert SseParser().feed(STREAM) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_any_chunking_gives_the_same_events(size: int) -> None:
    parser = SseParser()
    events: list[Event] = []
    for i in range(0, len(STREAM), size):
        events += parser.feed(STREAM[i : i + size])
    assert events == EXPECTED


def test_a_character_split_between_chunks_is_decoded() -> None:
    data = "data: é\n\n".encode()
    parser = SseParser()
    first = parser.feed(data[:7])
    assert first == [] and parser.feed(data[7:]) == [Event("message", "é")]


def test_an_unterminated_event_is_not_dispatched() -> None:
    assert SseParser().feed(b"event: message\ndata: x\n") == []
