"""The manifest of a run being made: created when the run starts, rewritten after every
variant run, closed with how the run ended."""

from __future__ import annotations

import dataclasses
import time

from harness.results.environment import machine, package_versions
from harness.results.folder import RunFolder
from harness.results.records import (
    SCHEMA_VERSION,
    Manifest,
    RunStatus,
    ScenarioCopy,
    VariantRecord,
)
from harness.runtime.postgres import DURABILITY_OFF
from harness.scenario import Scenario


def scenario_copy(scenario: Scenario) -> ScenarioCopy:
    """What the manifest keeps of the scenario: enough to judge the run years later."""
    return ScenarioCopy(name=scenario.name, description=scenario.description,
                        path=scenario.path, repeats=scenario.repeats,
                        variants=tuple(v.name for v in scenario.variants),
                        check=scenario.check, source=dict(scenario.raw))


class ManifestWriter:
    """Holds the manifest of a run and writes it to its folder on every change."""

    def __init__(self, folder: RunFolder, scenario: Scenario, runtime: str,
                 planned: tuple[str, ...], machine_id: str | None = None) -> None:
        self.folder = folder
        self.manifest = Manifest(
            schema_version=SCHEMA_VERSION, scenario=scenario_copy(scenario), status="running",
            error=None, runtime=runtime, runtime_info={}, versions=package_versions(),
            machine=machine(machine_id), durability=dict(DURABILITY_OFF), started=time.time(),
            ended=None, planned=planned, variants=())

    def write(self) -> None:
        self.folder.write_manifest(self.manifest)

    def set_runtime_info(self, info: dict[str, object]) -> None:
        self.manifest = dataclasses.replace(self.manifest, runtime_info=dict(info))
        self.write()

    def put_variant(self, record: VariantRecord) -> None:
        """Add the record of a variant run, or replace it (same name and repeat)."""
        variants = list(self.manifest.variants)
        same = [i for i, v in enumerate(variants) if v.dir == record.dir]
        if same:
            variants[same[0]] = record
        else:
            variants.append(record)
        self.manifest = dataclasses.replace(self.manifest, variants=tuple(variants))
        self.write()

    def close(self, status: RunStatus, error: str | None) -> Manifest:
        self.manifest = dataclasses.replace(self.manifest, status=status, error=error,
                                            ended=time.time())
        self.write()
        return self.manifest
