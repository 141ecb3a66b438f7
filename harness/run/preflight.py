"""Before anything starts: what ``pgstampede run`` checks of a scenario, each failure one
line and exit 2 (InputError). Loading a scenario (``harness.scenario``) starts no process;
the checks that do run here, in :func:`preflight`:

- the variants to run exist (``--variants``);
- the stages ask for no more users, nor a faster spawn, than the load machines can drive
  (``harness.load.capacity``: one machine, or ``--workers N``);
- each ``[app]``'s interpreter finds its module and preload modules (:func:`check_apps`);
- external variants point at this machine unless ``--allow-remote`` / ``--allow-address``
  (:func:`check_loopback`), and their application and database answer
  (:func:`check_reachable`);
- with ``--workers``, the workers can reach every variant's target;
- the runtime can do what the variants ask (``harness.services.registry.check_supported``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from urllib.parse import urlsplit

from harness.app.check import check_app
from harness.errors import InputError
from harness.load.capacity import check_capacity
from harness.load.distributed import DistributedRunner
from harness.results.redact import redact_text
from harness.runtime.loopback import check_local_address, dsn_host, is_loopback
from harness.scenario import ExternalSpec, Scenario
from harness.services.registry import check_supported


def preflight(scenario: Scenario, only: tuple[str, ...] | None, runtime: str, *,
              allow_remote: bool = False, allow_addresses: tuple[str, ...] = (),
              distributed: DistributedRunner | None = None) -> None:
    """Every check of ``pgstampede run`` before anything starts; InputError (exit 2)."""
    variants = scenario.selected(only)
    check_capacity(scenario, distributed.workers if distributed is not None else 1)
    check_apps(scenario)
    check_loopback(scenario, allow_remote, allow_addresses)
    check_reachable(scenario, only)
    if distributed is not None:
        distributed.check_targets(variants)
    check_supported(runtime, scenario, only)


def check_apps(scenario: Scenario) -> None:
    """ScenarioError (exit 2) when an ``[app]``'s interpreter cannot find its module or a
    preload module; each app is checked once (a variant's ``app_env`` changes nothing here)."""
    apps = {dataclasses.replace(v.app, env=()) for v in scenario.variants if v.app is not None}
    for app in sorted(apps, key=lambda a: (a.entry, a.root, a.python)):
        check_app(app, scenario.path)


def check_reachable(scenario: Scenario, only: tuple[str, ...] | None) -> None:
    """InputError (exit 2) when an external variant's application or database does not
    answer, before anything starts. Messages never show a DSN's password."""
    import psycopg

    for v in scenario.variants:
        ext = v.target
        if not isinstance(ext, ExternalSpec) or (only and v.name not in only):
            continue
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
        ext = v.target
        if not isinstance(ext, ExternalSpec):
            continue
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
