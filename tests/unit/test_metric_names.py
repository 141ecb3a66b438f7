"""Metric names are spelt once: constants in harness.results.metric_names, described by the
registry; no other module of the harness writes a metric name as a string literal, and no
literal is a near miss of one (a typo would read as null)."""

from __future__ import annotations

import ast
from pathlib import Path

from harness.results import metric_names as M
from harness.results.metrics import METRICS

HARNESS = Path(__file__).resolve().parents[2] / "harness"
NAMES_MODULE = HARNESS / "results" / "metric_names.py"

NOT_METRICS = {"http.request", "platform.cold_start"}
"""Literals close to a metric name that are something else: the ASGI ``http.request``
message; the ``platform.cold_start`` name prefix of the analysis's frame sources."""


def _constants() -> dict[str, str]:
    return {name: value for name, value in vars(M).items()
            if name.isupper() and isinstance(value, str)}


def _families() -> set[str]:
    return ({M.error_count(k) for k in M.ERROR_KINDS}
            | {M.host_cpu_mean(r) for r in M.HOST_ROLES}
            | {M.host_rss_peak_mb(r) for r in M.HOST_ROLES})


def _literals(path: Path) -> list[tuple[int, str]]:
    """Every string constant of a module (f-string pieces included), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def _near(a: str, b: str) -> bool:
    """Whether ``a`` is within two edits of ``b`` (Levenshtein)."""
    if abs(len(a) - len(b)) > 2:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1] <= 2


def _modules() -> list[Path]:
    return [p for p in sorted(HARNESS.rglob("*.py")) if p != NAMES_MODULE]


def test_every_constant_is_a_registered_metric_and_named_after_it() -> None:
    constants = _constants()
    for const, name in constants.items():
        assert name in METRICS, f"{const} = {name!r} is not in the registry"
        assert const == name.upper().replace(".", "_"), f"{const} should be spelt after {name}"


def test_every_registered_metric_has_a_constant_or_is_a_family_member() -> None:
    spelt = set(_constants().values()) | _families()
    assert set(METRICS) == spelt


def test_no_module_spells_a_metric_name() -> None:
    found = []
    for path in _modules():
        where = path.relative_to(HARNESS).as_posix()
        found += [f"{where}:{line}: {text!r}" for line, text in _literals(path)
                  if text in METRICS]
    assert found == [], "use harness.results.metric_names instead of: " + ", ".join(found)


def test_no_literal_is_a_misspelt_metric_name() -> None:
    found = []
    for path in _modules():
        where = path.relative_to(HARNESS).as_posix()
        for line, text in _literals(path):
            if "." not in text or text in METRICS or text in NOT_METRICS:
                continue
            close = [name for name in METRICS if _near(text, name)]
            if close:
                found.append(f"{where}:{line}: {text!r} (is it {close[0]!r}?)")
    assert found == []
