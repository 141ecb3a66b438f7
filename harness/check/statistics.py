"""The significance test behind a baseline verdict: a one-sided Mann–Whitney U test.

Why this test: per-repeat values are few (3 to 10), latency percentiles are skewed and
counts are tied, so no normality can be assumed (which rules out a t-test) and a bootstrap
of 3 values only resamples 10 distinct sets. Mann–Whitney U is rank-based, assumes no
distribution, and its p-value is exact for small samples.

What is tested: not "did it move at all" but "did it move by more than the minimum change":
the current values are moved back by the margin (the metric's minimum change, or its
noise floor, whichever is larger) before the test. Two samples from one distribution then
almost never pass, which keeps a gate over dozens of metrics from failing on noise, while a
shift well past the margin passes as soon as the samples separate.

Why one-sided: the direction that counts is known before the data is seen (the glossary
says whether lower or higher is better), and the question the gate asks is "is the
current run worse?". A two-sided test at 0.05 cannot flag anything with 3 vs 3 repeats
(its smallest p is 0.10); the one-sided test can, when all three current repeats are worse
than all three baseline ones (p = 1/20 = 0.05).

The smallest p-value reachable with n and m repeats is ``1 / C(n + m, n)``: 0.05 for 3 vs 3,
0.014 for 4 vs 4, 0.004 for 5 vs 5. With ``alpha`` = 0.05, 3 repeats on both sides is the
minimum that can ever flag a change.

P-values are exact (every split of the pooled values enumerated, ties handled by mid-ranks)
while there are at most :data:`EXACT_LIMIT` splits, and the normal approximation with tie
correction beyond that (from about 8 vs 9 repeats).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats

from harness.results.check_spec import DEFAULT_ALPHA as DEFAULT_ALPHA

MIN_REPEATS = 3
EXACT_LIMIT = 20_000


def shift_p_value(
    baseline: Sequence[float], current: Sequence[float], *, larger: bool, margin: float = 0.0
) -> float:
    """One-sided p-value that ``current`` exceeds ``baseline`` by more than ``margin``.

    ``larger`` gives the direction: current larger than baseline + margin, or smaller than
    baseline - margin. The current values are moved back by ``margin`` and compared with a
    one-sided Mann–Whitney U test. Needs two values on each side; identical samples give 1.
    """
    if len(baseline) < 2 or len(current) < 2:
        raise ValueError("this Mann-Whitney test needs at least two values on each side")
    alternative = "greater" if larger else "less"
    current = [c - margin for c in current] if larger else [c + margin for c in current]
    if math.comb(len(baseline) + len(current), len(current)) <= EXACT_LIMIT:
        method: str | stats.PermutationMethod = stats.PermutationMethod(
            n_resamples=EXACT_LIMIT, rng=0
        )
    else:
        method = "asymptotic"
    result = stats.mannwhitneyu(
        list(current), list(baseline), alternative=alternative, method=method
    )
    p_value = float(result.pvalue)
    return 1.0 if math.isnan(p_value) else min(1.0, p_value)


def smallest_p_value(n_baseline: int, n_current: int) -> float:
    """The smallest one-sided p-value the test can reach with these sample sizes (no ties)."""
    return 1.0 / math.comb(n_baseline + n_current, n_current)


def significant(p_value: float, alpha: float) -> bool:
    """``p <= alpha``, tolerant of rounding (an exact 1/20 must pass alpha = 0.05)."""
    return p_value <= alpha * (1 + 1e-9)
