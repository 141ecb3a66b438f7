"""A command app (``[app] command``) as the persistent target: one process, as deployed.

The command runs once, in ``root``, with the app's environment (harness.app.env), its port
in ``port_env`` (default ``PORT``) and ``WEB_CONCURRENCY`` = ``[target.persistent]
workers`` (the convention of clustered Node, gunicorn and Puma servers: the program decides
what to do with it). It is ready when ``ready`` ("GET /health") answers below 500, or,
without ``ready``, when its port answers HTTP at all; it is stopped at the end (SIGTERM to
its process group, then SIGKILL).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Mapping

from harness.runtime.wait import answers_http
from harness.scenario.records import AppSpec


def command_env(app: AppSpec, env: Mapping[str, str], port: int, workers: int
                ) -> dict[str, str]:
    """The persistent command's environment: ``env`` with its port and its workers."""
    return {**env, "WEB_CONCURRENCY": str(workers), app.port_env: str(port)}


def command_ready(app: AppSpec, url: str) -> Callable[[], bool]:
    """Ready: ``ready`` answers below 500, or (no ``ready``) the port answers HTTP."""
    if not app.ready:
        return lambda: answers_http(f"{url}/")
    method, _, path = app.ready.partition(" ")

    def check() -> bool:
        request = urllib.request.Request(f"{url}{path}", method=method)
        try:
            with urllib.request.urlopen(request, timeout=2.0) as answer:  # noqa: S310
                return int(answer.status) < 500
        except urllib.error.HTTPError as err:
            return err.code < 500
        except (urllib.error.URLError, OSError, ValueError):
            return False

    return check
