"""Expand a scenario into the ordered list of variant runs (pure).

Repeats are interleaved (all variants once, then all again) so that a drift of the machine
over time spreads over every variant instead of biasing the last one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.scenario import Scenario, Variant


@dataclass(frozen=True)
class RunItem:
    """One variant run: ``repeat`` is 1-based; ``index`` counts runs from 1 to ``total``."""

    variant: Variant
    repeat: int
    index: int
    total: int

    @property
    def dirname(self) -> str:
        return f"{self.variant.name}/{self.repeat}"


def make_plan(scenario: Scenario, only: Sequence[str] | None = None,
              repeats: int | None = None) -> tuple[RunItem, ...]:
    """Every (variant, repeat) to run, in order."""
    variants = scenario.selected(only)
    count = scenario.repeats if repeats is None else repeats
    total = len(variants) * count
    items: list[RunItem] = []
    for r in range(1, count + 1):
        for v in variants:
            items.append(RunItem(variant=v, repeat=r, index=len(items) + 1, total=total))
    return tuple(items)
