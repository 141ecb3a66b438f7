"""The profile of platform_scale.py --profile: perf samples by role and kind of work."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from scale_profile import KERNEL, USER, kind_of, parse  # noqa: E402

SCRIPT = """python 101
\tffffffff81001000 copy_mc_enhanced_fast_string
\tffffffff81002000 wp_page_copy
\tffffffff81003000 do_wp_page
\t7f0000001000 _PyEval_EvalFrameDefault

python 101
\t7f0000001000 _PyEval_EvalFrameDefault

postgres 900
\tffffffff81004000 clear_page_erms
\tffffffff81005000 do_anonymous_page

python 102
\tffffffff81006000 copy_page_range
\tffffffff81007000 dup_mm

swapper 0
\tffffffff81008000 pv_native_safe_halt

python 555
\tffffffff81009000 __schedule
"""


def test_samples_are_grouped_by_role_and_kind() -> None:
    profile = parse(SCRIPT, {101: "instances", 102: "template", 900: "postgres"})
    instances = profile.samples["instances"]
    assert instances["page copies on write (fork's shared pages)"] == 1
    assert instances[USER] == 1
    assert profile.samples["postgres"]["zero-filled new pages"] == 1
    assert profile.samples["template"]["fork (copying page tables)"] == 1
    assert set(profile.samples) == {"instances", "postgres", "template"}  # idle, pid 555 out
    lines = profile.lines(n=2, hz=500)  # 1 sample = 2 ms; per instance: 1 ms
    assert lines[0] == "  instances    2.00 ms CPU per new instance"


def test_a_kernel_leaf_without_a_known_marker_is_other_kernel_work() -> None:
    assert kind_of(["ffffffff81009000 __schedule"]) == KERNEL
    assert kind_of(["7f0000001000 PyObject_Malloc"]) == USER
    assert kind_of([]) == USER
