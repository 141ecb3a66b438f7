"""The two tiers of the suite, and the pattern for expensive things built once per run.

Tiers (docs/internals.md, "Tests"):

- ``make test`` runs every test: the whole suite, as CI does.
- ``make test-fast`` runs the tests marked ``fast``, for the edit-test loop, on every core
  (pytest-xdist; under 3 minutes here). Marked here, at collection: every test without one
  of ``SLOW_MARKERS`` (the real services: integration, docker, browser, packaging; or
  ``slow``: no service, but minutes of subprocesses, as test_report_cli.py), that is every
  unit test; and the few integration tests marked ``@pytest.mark.fast`` by hand, which
  prove the pipeline end to end. So a new unit test is fast by default, a new integration
  test is not; mark one ``fast`` only when it proves something no fast test does, in
  seconds.

Property tests take their number of examples from a Hypothesis profile: ``full`` (500, the
default) or ``fast`` (100, Hypothesis's own default), which ``make test-fast`` selects with
``--hypothesis-profile=fast``.

Built once, shared: an expensive input (an app's virtualenv, ``npm ci`` + ``next build``,
a wheel) is a session-scoped fixture that calls :func:`tests.build_cache.built_once`,
which builds it in a folder named by the hash of what it is built from and reuses it, within
the run and across runs (``tests/integration/apps/conftest.py`` does so for the example
apps' virtualenvs).
"""

from __future__ import annotations

import pytest
from hypothesis import settings

SLOW_MARKERS = ("integration", "docker", "browser", "packaging", "slow")
"""A test with one of these markers is in the whole suite only, unless also marked fast."""

settings.register_profile("full", max_examples=500)
settings.register_profile("fast", max_examples=100)
settings.load_profile("full")  # before the test modules are imported: their @settings inherit


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(name) for name in SLOW_MARKERS):
            item.add_marker(pytest.mark.fast)
