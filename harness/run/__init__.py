"""Running a scenario, split by concept:

- ``preflight``: what ``pgstampede run`` checks before anything starts;
- ``plan``: the variant runs to make; ``scenario``: the run loop (signals, how the run ends,
  exit code);
- ``variant``: one variant run (its services through ``harness.services``, collectors and
  load, frames, its record);
- ``seams``: what a variant run talks to (runtime, load runner, collectors, background
  reader), injected so a whole run is testable with fakes;
- ``manifest``: the manifest being written; ``finalise``: summary, verdict and report;
- ``live`` and ``progress``: the progress display; ``realtime``: the published messages.
"""

from harness.run.scenario import RunOptions, RunOutcome, run
from harness.run.seams import Seams, default_seams

__all__ = ["RunOptions", "RunOutcome", "Seams", "default_seams", "run"]
