"""``python -m harness.docs [--check]``: regenerate the reference docs, or check them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.docs import stale, write
from harness.docs.lint import problems

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.docs", description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; list what is stale or wrong (exit 1 if any)")
    args = parser.parse_args()
    if args.check:
        found = stale(ROOT) + problems(ROOT)
        for line in found:
            print(line)
        return 1 if found else 0
    for path in write(ROOT):
        print(f"wrote {path.relative_to(ROOT)}")
    for line in problems(ROOT):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
