"""Running a scenario, split by concept:

- ``scenario``: the run loop (plan, signals, how the run ends, exit code);
- ``variant``: one variant run (services, collectors, load, frames, its record);
- ``services``: bringing services up through the runtime, the standard collectors;
- ``seams``: what a variant run talks to (runtime, load runner, collectors, background
  reader), injected so a whole run is testable with fakes;
- ``manifest``: the manifest being written; ``finalise``: summary, verdict and report;
- ``live``: the progress display.
"""

from harness.run.scenario import RunOptions, RunOutcome, run
from harness.run.seams import Seams, default_seams

__all__ = ["RunOptions", "RunOutcome", "Seams", "default_seams", "run"]
