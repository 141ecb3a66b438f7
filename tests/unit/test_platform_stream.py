"""The gateway's relay of a streamed response: chunks in order, the end, a client that goes."""

from __future__ import annotations

import asyncio
from typing import Any

from harness.platform.stream import CLIENT_GONE, ENDED, StreamBody, relay


class Client:
    """ASGI send/receive of one HTTP client: records what is sent; disconnects on demand."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gone = asyncio.Event()
        self.requested = False

    async def send(self, message: Any) -> None:
        self.sent.append(dict(message))

    async def receive(self) -> Any:
        if not self.requested:
            self.requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}


def test_chunks_are_relayed_in_order_until_the_instance_ends_the_stream() -> None:
    async def scenario() -> tuple[str, Client]:
        client, body = Client(), StreamBody(200)
        for chunk in (b"event: ready\n\n", b"data: 1\n\n"):
            body.put(chunk)
        body.end()
        body.put(b"after the end")  # ignored
        return await relay(client.send, client.receive, body), client

    outcome, client = asyncio.run(scenario())
    assert outcome == ENDED
    start, *bodies = client.sent
    assert start["type"] == "http.response.start" and start["status"] == 200
    assert (b"content-type", b"text/event-stream") in start["headers"]
    assert [(m["body"], m["more_body"]) for m in bodies] == [
        (b"event: ready\n\n", True), (b"data: 1\n\n", True), (b"", False)]


def test_a_client_that_goes_ends_the_relay_and_the_response() -> None:
    async def scenario() -> tuple[str, Client]:
        client, body = Client(), StreamBody(200)
        body.put(b"data: 1\n\n")
        task = asyncio.ensure_future(relay(client.send, client.receive, body))
        while len(client.sent) < 2:
            await asyncio.sleep(0)
        client.gone.set()
        return await task, client

    outcome, client = asyncio.run(scenario())
    assert outcome == CLIENT_GONE
    assert client.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def test_a_cut_relay_still_ends_the_response() -> None:
    async def scenario() -> Client:
        client, body = Client(), StreamBody(200)
        task = asyncio.ensure_future(relay(client.send, client.receive, body))
        while not client.sent:
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return client

    client = asyncio.run(scenario())
    assert client.sent[-1]["more_body"] is False
