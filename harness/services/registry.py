"""The runtimes a user can choose with ``--runtime``, and what each cannot do (refused
before anything starts)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from harness.errors import InputError, ServiceError
from harness.runtime.pgbouncer import (
    find_pgbouncer,
    pgbouncer_version,
    tracks_prepared_statements,
)
from harness.scenario import PgBouncerSpec, PgpoolSpec, Scenario, ServerlessSpec, Variant
from harness.services.runtimes import ProcessRuntime, Runtime


def _docker() -> Runtime:
    from harness.services.docker_targets import DockerRuntime  # connects to an engine

    runtime: Runtime = DockerRuntime()
    return runtime


RUNTIMES: dict[str, Callable[[], Runtime]] = {
    "process": ProcessRuntime,
    "docker": _docker,
}

# What a runtime cannot do is refused when the scenario is loaded (exit 2, before anything
# starts), never found out in the middle of a run: the fault kinds it cannot carry out (and
# why), and whether it runs a user's own application ([app]).
UNSUPPORTED_FAULTS: dict[str, dict[str, str]] = {
    "docker": {
        "restart_postgres": "PostgreSQL's container is not restarted in place",
        "restart_pgbouncer": "PgBouncer's container is not restarted in place",
        # docker-init (tini) puts the app in a process group of its own: stopping the group
        # of the container's init would freeze nothing but the init.
        "freeze_target": "the target's container is not frozen (SIGSTOP of its init's process "
                         "group misses the app)",
    },
}
RUNS_APPS = frozenset({"process"})
RUNS_JOB_QUEUE = frozenset({"process"})  # [target.serverless] background = "queue"
POOLERS_OF: dict[str, frozenset[str]] = {"docker": frozenset({"none", "pgbouncer", "pgpool"})}


def get_runtime(name: str) -> Runtime:
    """The runtime named ``name``; InputError for an unknown one."""
    try:
        factory = RUNTIMES[name]
    except KeyError:
        raise InputError(f"--runtime {name}: unknown (expected one of: "
                         f"{', '.join(RUNTIMES)})") from None
    return factory()


def check_pooler_images(name: str, variants: Sequence[Variant]) -> None:
    """The PgBouncer each variant asks for (``[pooler.pgbouncer] image``) can run. Under
    docker, the images only some variants need (``pgstampede/pgpool``; for ``image =
    "trixie"``, PgBouncer 1.24, ``pgstampede/pgbouncer-trixie``) must be built from this
    checkout. The process runtime runs this machine's pgbouncer: ``"trixie"`` needs one that
    tracks prepared statements in transaction mode (1.21 or later), ``"bookworm"`` one that
    does not (before 1.21, as 1.18), else the variant would not measure what it asks for.
    InputError (one line, naming the installed version) otherwise."""
    asked = {v.name: v.pooler.image for v in variants
             if isinstance(v.pooler, PgBouncerSpec) and v.pooler.image}
    trixie = [n for n, image in asked.items() if image == "trixie"]
    if name == "docker":
        roles = {"pgpool" for v in variants if isinstance(v.pooler, PgpoolSpec)}
        if trixie or roles:
            from harness.runtime.docker import check_images

            check_images(roles | ({"pgbouncer-trixie"} if trixie else set()))
        return
    if not asked or name not in RUNTIMES:
        return
    try:
        version = pgbouncer_version(find_pgbouncer())
    except ServiceError:
        version = ""
    for variant, image in asked.items():
        if version and tracks_prepared_statements(version) == (image == "trixie"):
            continue
        wanted = ("PgBouncer 1.21 or later" if image == "trixie"
                  else "PgBouncer before 1.21, as 1.18")
        raise InputError(f"--runtime {name}: variant {variant} asks for [pooler.pgbouncer] "
                         f"image = \"{image}\" ({wanted}); this machine's pgbouncer is "
                         f"{version or 'missing'} (use --runtime docker, or leave image out "
                         "to run this machine's)")


def check_supported(name: str, scenario: Scenario, only: Sequence[str] | None = None) -> None:
    """InputError (one line) when runtime ``name`` cannot run one of the variants to run
    (``only``, else all): an ``[app]`` it does not run, or a fault kind it cannot carry out."""
    variants = scenario.selected(only)
    if name in RUNTIMES and name not in RUNS_APPS:
        for variant in variants:
            if variant.app is not None:
                raise InputError(f"--runtime {name}: variant {variant.name} runs your [app], "
                                 "which only the process runtime does (use --runtime process)")
    for variant in variants:
        target = variant.target
        if (name in RUNTIMES and name not in RUNS_JOB_QUEUE
                and isinstance(target, ServerlessSpec) and target.background == "queue"):
            raise InputError(f"--runtime {name}: variant {variant.name} uses background = "
                             "\"queue\", whose worker only the process runtime starts (use "
                             "--runtime process)")
        pooler = variant.pooler.kind
        if pooler not in POOLERS_OF.get(name, frozenset({pooler})):
            raise InputError(f"--runtime {name}: variant {variant.name} uses pooler "
                             f"{pooler}, which only the process runtime runs (use "
                             "--runtime process)")
    check_pooler_images(name, variants)
    unsupported = UNSUPPORTED_FAULTS.get(name, {})
    for fault in scenario.faults:
        hit = [v.name for v in variants if fault.applies_to(v)]
        if fault.kind in unsupported and hit:
            raise InputError(f"--runtime {name}: fault {fault.kind} (variant {hit[0]}) cannot "
                             f"be carried out: {unsupported[fault.kind]}; use --runtime process "
                             "or drop the fault")
