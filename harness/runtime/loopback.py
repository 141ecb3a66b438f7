"""Loopback only: which hosts and addresses are this machine's own.

The harness sends load and opens connections only to this machine unless the user says
otherwise (``--allow-remote``, ``--allow-address``); the preflight of ``pgstampede run``
(:mod:`harness.run.preflight`) and the distributed load (``--bind``) decide with these.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from harness.errors import InputError

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and names that resolve only to those."""
    host = host.strip("[]")
    if not host or host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return all(ipaddress.ip_address(str(info[4][0])).is_loopback for info in infos)


def dsn_host(dsn: str) -> str:
    """The host of a ``postgresql://`` URL, or of a ``host=...`` keyword DSN."""
    if "://" in dsn:
        return urlsplit(dsn).hostname or ""
    for part in dsn.split():
        key, _, value = part.partition("=")
        if key == "host":
            return value
    return ""


def parse_bind(text: str) -> tuple[str, int]:
    """``ADDRESS:PORT`` of ``--bind`` (an IP address of this machine, or 0.0.0.0 / ::);
    InputError (exit 2) for anything else."""
    address, sep, port = text.rpartition(":")
    address = address.strip("[]")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None
    if not sep or ip is None or not port.isdigit() or not 1 <= int(port) <= 65534:
        raise InputError(f"--bind {text!r}: expected ADDRESS:PORT with an IP address and a "
                         "port from 1 to 65534 (PORT + 1 is Locust's), e.g. 10.0.0.5:5557")
    if not ip.is_unspecified:
        check_local_address(str(ip), "--bind")
    return str(ip), int(port)


def check_local_address(address: str, flag: str) -> None:
    """InputError unless ``address`` is an IP address of one of this machine's interfaces."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(ip), 0))  # only an address of this machine can be bound
    except (ValueError, OSError):
        raise InputError(f"{flag} {address}: not an IP address of this machine's interfaces"
                         ) from None
