"""The entry point of an instance container (``spawner = "docker"``): connect, then serve.

The gateway binds one Unix socket per instance and bind-mounts it into the instance's
container (harness.platform.docker_spawner); the container runs::

    python -m harness.platform.container_instance --socket /run/pgstampede/gateway.sock \
        --instance i3 --handler targets.serverless.handler:handler

It connects to that socket, then runs the same instance runtime as a forked or exec'd instance
(harness.platform.instance): import the handler, send the ready frame, serve frames until the
gateway closes the socket.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time

from harness.platform.config import DEFAULT_HANDLER
from harness.platform.instance import run_instance

SOCKET_IN_CONTAINER = "/run/pgstampede/gateway.sock"


def connect(path: str, timeout_s: float = 10.0) -> socket.socket:
    """A stream connection to the gateway's socket (retried until ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(prog="python -m harness.platform.container_instance")
    parser.add_argument("--socket", default=SOCKET_IN_CONTAINER, help="the gateway's socket")
    parser.add_argument("--instance", default=os.environ.get("PGSTAMPEDE_INSTANCE", "i0"),
                        help="the platform's instance id")
    parser.add_argument("--handler", default=DEFAULT_HANDLER, help="module:function")
    args = parser.parse_args(argv)
    os.environ["PGSTAMPEDE_INSTANCE"] = args.instance
    try:
        sock = connect(args.socket)
    except OSError as exc:
        print(f"instance {args.instance}: cannot connect to {args.socket}: {exc}", file=sys.stderr)
        return 1
    return run_instance(sock.detach(), args.handler, started)


if __name__ == "__main__":
    sys.exit(main())
