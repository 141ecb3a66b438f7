"""Free TCP ports on 127.0.0.1, below the ephemeral range.

Ports in 32768-60999 collide with TIME-WAIT sockets under connection churn, so the
harness only ever uses ports from ``LOW`` to ``HIGH``.
"""

from __future__ import annotations

import random
import socket

from harness.errors import InputError

LOW = 20000
HIGH = 32767
LOOPBACK = "127.0.0.1"


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on ``host:port`` and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(low: int = LOW, high: int = HIGH, attempts: int = 200) -> int:
    """A port in [low, high] that can be bound on 127.0.0.1 right now."""
    rng = random.Random()
    for _ in range(attempts):
        port = rng.randint(low, high)
        if port_is_free(port):
            return port
    raise InputError(f"no free TCP port on {LOOPBACK} between {low} and {high}")
