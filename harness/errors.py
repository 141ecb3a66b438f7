"""The harness's one exception tree, caught in one place (``harness.cli``).

    HarnessError                 base; never raised directly
    ├── InputError               bad input: scenario file, CLI flag, run folder given → exit 2
    │   ├── ScenarioError        a scenario file is invalid (names the file and the key)
    │   └── AppError             the user's app ([app]) failed before the load: import,
    │                            startup, a setup command (names the app and its log)
    ├── RunError                 the run could not complete → exit 3
    │   ├── ServiceError         a service (postgres, pgbouncer, target, gateway) failed to start
    │   ├── LoadError            Locust failed or crashed
    │   ├── MeasurementError     a measurement could not be taken (recorded as a problem:
    │   │                        the variant run is incomplete, the run goes on)
    │   └── IncompleteRunError   a run folder is damaged, or a measurement in it is missing
    │       └── DecodeError      JSON (a run-folder file, a plan, a message) does not hold
    │                            the record expected (harness.results.codec)

A run that has started ends with status ``failed`` on any error, InputError included
(exit 3), except an AppError (the user's app did not start, exit 2); otherwise exit 2 is
only for bad input found before anything starts.

Every message is one line a user can act on: what, where, and what to check. The exit
codes are :class:`ExitCode`, with their meaning in :data:`EXIT_CODES`: ``pgstampede --help``
and the README's table are made from it.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes of every ``pgstampede`` command."""

    OK = 0
    FAILED = 1
    INPUT = 2
    INCOMPLETE = 3


EXIT_CODES: dict[ExitCode, str] = {
    ExitCode.OK: "run complete and every threshold held (`check`: no threshold failed, no "
                 "regression)",
    ExitCode.FAILED: "a threshold failed, or `check` found a regression against the baseline",
    ExitCode.INPUT: "bad input: scenario file, flags, paths, a baseline (one line on stderr "
                    "says file, key and what was expected); also your `[app]` failing before "
                    "the load: its schema or a setup command (either target), its startup (the "
                    "persistent target), with its log named",
    ExitCode.INCOMPLETE: "the run could not complete or a measurement is missing: a service "
                         "failed to start, Locust crashed, your serverless `[app]` whose every "
                         "instance failed its init (the first error quoted), an error in the "
                         "middle of the run "
                         "(even a port taken after planning), interrupted (SIGINT/SIGTERM); a "
                         "collector that covered too little of the load (the database collector "
                         "below `[check] min_coverage`), a `--workers` worker lost during the "
                         "load, a server log not read to its end, an unreadable background "
                         "table, or a run folder whose files are missing, emptied or changed "
                         "(`run`, `report` and `check` say which collector or file, when and "
                         "why)",
}
"""What each exit code means, for people (the README's table, ``pgstampede --help``)."""


def exit_code_table() -> str:
    """:data:`EXIT_CODES` as the README's Markdown table."""
    rows = [f"| {int(code)} | {meaning} |" for code, meaning in EXIT_CODES.items()]
    return "\n".join(["| code | meaning |", "|---|---|", *rows])


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""

    exit_code = ExitCode.INCOMPLETE


class InputError(HarnessError):
    """Bad input: a scenario, a flag, a path. Exit code 2."""

    exit_code = ExitCode.INPUT


class ScenarioError(InputError):
    """A scenario file is invalid."""

    def __init__(self, path: str, key: str, expected: str) -> None:
        self.path = path
        self.key = key
        self.expected = expected
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {expected}")


class AppError(InputError):
    """The user's application failed before the load started (exit 2): its module does not
    import, its startup raises, a setup or schema step fails. The message carries the app's
    own error (the tail of its traceback) and where its log is. After the load has started,
    the same failures are a RunError (exit 3)."""

    def __init__(self, app: str, cause: str, log: str | None = None) -> None:
        self.app = app
        self.log = log
        msg = f"app {app}: {cause}"
        if log:
            msg += f" (see its log: {log})"
        super().__init__(msg)


class RunError(HarnessError):
    """The run could not complete. Exit code 3."""

    exit_code = ExitCode.INCOMPLETE


class ServiceError(RunError):
    """A service failed to start or died; the message names it and its log."""

    def __init__(self, service: str, cause: str, log: str | None = None) -> None:
        self.service = service
        self.log = log
        msg = f"{service}: {cause}"
        if log:
            msg += f" (see its log: {log})"
        super().__init__(msg)


class LoadError(RunError):
    """The load generator (Locust) failed."""


class MeasurementError(RunError):
    """A measurement could not be taken (e.g. the background-job table is unreadable)."""


class IncompleteRunError(RunError):
    """A run folder is incomplete: missing files or status not 'complete'."""
