"""The docker runtime's log copier reports a copy that breaks off; the stream ending because
the container is removed is no error. A fake engine client (no Docker engine needed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from requests.exceptions import ConnectionError as RequestsConnectionError
from urllib3.exceptions import ProtocolError

from harness.errors import ServiceError
from harness.runtime.docker_container import ContainerSpec, ServiceContainer


class _Container:
    """A started container whose output is ``lines``, then ``then``: ``"break"`` (the stream
    fails at once), ``"removal"`` (it fails when the container is removed, as the engine's
    stream does) or ``"end"`` (it ends when removed)."""

    id = "c0ffee"
    attrs: dict[str, Any] = {"State": {"Pid": 0, "Status": "running"}}

    def __init__(self, lines: list[bytes], then: str) -> None:
        self.lines = lines
        self.then = then
        self.removed = threading.Event()
        self.streamed = threading.Event()

    def reload(self) -> None:
        pass

    def logs(self, *, stream: bool, follow: bool) -> Iterator[bytes]:
        assert stream and follow
        yield from self.lines
        self.streamed.set()
        if self.then == "break":
            raise ProtocolError("Connection broken: IncompleteRead(0 bytes read)")
        self.removed.wait()
        if self.then == "removal":
            raise RequestsConnectionError("engine closed the stream")

    def remove(self, force: bool) -> None:
        self.removed.set()


class _Containers:
    def __init__(self, container: _Container) -> None:
        self.container = container

    def run(self, image: str, **kwargs: Any) -> _Container:
        return self.container


class _Client:
    def __init__(self, container: _Container) -> None:
        self.containers = _Containers(container)


def service(tmp_path: Path, container: _Container, log: Path | None = None) -> ServiceContainer:
    spec = ContainerSpec(service="postgres", image="pgstampede/postgres:latest",
                         name="pgstampede-test-postgres", labels={},
                         log_path=log or tmp_path / "logs" / "postgres.log")
    return ServiceContainer(_Client(container), spec, ready=lambda: True)  # type: ignore[arg-type]


def test_a_copy_that_breaks_off_is_an_error_naming_the_log(tmp_path: Path) -> None:
    container = _Container([b"LOG:  database system is ready\n"], then="break")
    svc = service(tmp_path, container)
    with pytest.raises(ServiceError) as err, svc:
        assert svc._logs is not None
        svc._logs.join()  # the copy has failed
        assert svc.log_failure() is not None
    message = str(err.value)
    assert message.startswith("postgres: container pgstampede-test-postgres: copying its output "
                              f"into {tmp_path / 'logs' / 'postgres.log'} failed at ")
    assert "ProtocolError: Connection broken: IncompleteRead(0 bytes read)" in message
    assert "\n" not in message
    assert container.removed.is_set()  # removed all the same
    assert (tmp_path / "logs" / "postgres.log").read_bytes() == b"LOG:  database system is ready\n"


@pytest.mark.parametrize("then", ["removal", "end"])
def test_the_stream_ending_at_removal_is_no_error(tmp_path: Path, then: str) -> None:
    container = _Container([b"one\n", b"two\n"], then=then)
    svc = service(tmp_path, container)
    with svc:
        container.streamed.wait()
    assert svc.log_failure() is None
    assert (tmp_path / "logs" / "postgres.log").read_bytes() == b"one\ntwo\n"


def test_a_log_file_that_cannot_be_written_is_reported(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "postgres.log"
    log.mkdir(parents=True)  # a folder where the file should be
    svc = service(tmp_path, _Container([b"x\n"], then="end"), log)
    with pytest.raises(ServiceError, match="IsADirectoryError"), svc:
        assert svc._logs is not None
        svc._logs.join()


def test_a_failure_during_another_error_is_a_note_on_it(tmp_path: Path) -> None:
    svc = service(tmp_path, _Container([b"x\n"], then="break"))
    with pytest.raises(RuntimeError, match="the load failed") as err, svc:
        assert svc._logs is not None
        svc._logs.join()
        raise RuntimeError("the load failed")
    notes = getattr(err.value, "__notes__", [])
    assert len(notes) == 1 and notes[0].startswith("postgres: copying its output into ")
