"""Loopback only: load and connections go to this machine unless the user says otherwise.

The harness refuses a non-loopback target or watched database unless ``--allow-remote``.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from harness.errors import InputError
from harness.scenario import Scenario

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


def check_reachable(scenario: Scenario, only: tuple[str, ...] | None) -> None:
    """InputError (exit 2) when an external variant's application or database does not
    answer, before anything starts. Messages never show a DSN's password."""
    import psycopg

    from harness.results.redact import redact_text

    for v in scenario.variants:
        if v.target != "external" or (only and v.name not in only):
            continue
        ext = v.external
        parts = urlsplit(ext.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname or "", port), timeout=5).close()
        except OSError as exc:
            raise InputError(f"{scenario.path}: variants '{v.name}' url {ext.url}: nothing "
                             f"answers ({exc.strerror or exc}); start your application first"
                             ) from None
        for key, dsn in (("watch_dsn", ext.watch_dsn),
                         ("pgbouncer_admin_dsn", ext.pgbouncer_admin_dsn)):
            if not dsn:
                continue
            try:
                # autocommit: PgBouncer's admin console refuses transactions
                psycopg.connect(dsn, connect_timeout=5, autocommit=True).close()
            except psycopg.Error as exc:
                cause = redact_text(str(exc).strip().splitlines()[0] if str(exc) else "")
                raise InputError(f"{scenario.path}: variants '{v.name}' {key} "
                                 f"{redact_text(dsn)}: cannot connect ({cause})") from None


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


def check_loopback(scenario: Scenario, allow_remote: bool,
                   local_addresses: tuple[str, ...] = ()) -> None:
    """InputError when an external variant points off this machine without --allow-remote.

    ``local_addresses`` (``--allow-address``, each checked to be an address of this
    machine's own interfaces) are accepted as well: load sent to them stays on this machine.
    """
    if allow_remote:
        return
    for address in local_addresses:
        check_local_address(address, "--allow-address")
    allowed = {str(ipaddress.ip_address(a.strip("[]"))) for a in local_addresses}
    for v in scenario.variants:
        if v.target != "external":
            continue
        ext = v.external
        checks = [("url", urlsplit(ext.url).hostname or ""), ("watch_dsn", dsn_host(ext.watch_dsn))]
        if ext.pgbouncer_admin_dsn:
            checks.append(("pgbouncer_admin_dsn", dsn_host(ext.pgbouncer_admin_dsn)))
        for key, host in checks:
            if not is_loopback(host) and host.strip("[]") not in allowed:
                raise InputError(
                    f"{scenario.path}: variants '{v.name}' {key}: host {host!r} is not loopback; "
                    "pgstampede sends load only to 127.0.0.1 unless you pass --allow-remote "
                    "(or --allow-address for an address of this machine)"
                )
