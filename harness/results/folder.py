"""The run folder: the one reader and writer of what a run leaves on disk.

``run`` writes through it; ``report``, ``check`` and ``baseline`` read through it. What it
reads it reads strictly (:mod:`harness.results.codec`): a file of another schema version is
an InputError (exit 2) saying so; a file that does not hold what the harness wrote is an
IncompleteRunError (exit 3) naming the file and the field.

Frame files are verified against their variant record (row count and sha256 recorded when
they were written): :meth:`RunFolder.load_variant` returns the frames together with the
problems found (missing, unreadable, emptied or changed files), so that an emptied
``pglog.parquet`` makes the variant run incomplete instead of reading as "no refusals".

Layout::

    <run>/manifest.json            Manifest
    <run>/summary.json             Summary
    <run>/<variant>/<repeat>/      one folder per variant run (VariantRecord.dir)
        <frame>.parquet            frames (harness.results.frames)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd

from harness.errors import IncompleteRunError, InputError
from harness.results import store
from harness.results.codec import decode, encode
from harness.results.frames import FRAME_NAMES, coerce_frame, empty_frame
from harness.results.records import (
    MANIFEST,
    SCHEMA_VERSION,
    SUMMARY,
    FrameFile,
    Manifest,
    Problem,
    VariantRecord,
)
from harness.results.summary import Summary

T = TypeVar("T")
PIDS = ".pids"


@dataclass(frozen=True)
class LoadedVariant:
    """A variant run read back: its record, its frames (every name of FRAME_NAMES) and the
    problems found in its files."""

    record: VariantRecord
    directory: Path
    frames: dict[str, pd.DataFrame]
    file_problems: tuple[Problem, ...]

    @property
    def problems(self) -> tuple[Problem, ...]:
        """What the run recorded, then what the files show."""
        return self.record.problems + self.file_problems


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class RunFolder:
    """A run folder on disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY

    @property
    def pid_dir(self) -> Path:
        return self.path / PIDS

    # ---- writing ----------------------------------------------------------------------------

    def write_manifest(self, manifest: Manifest) -> None:
        store.write_json(self.manifest_path, encode(manifest))

    def write_summary(self, summary: Summary) -> None:
        store.write_json(self.summary_path, encode(summary))

    def write_frame(self, dirname: str, name: str, frame: pd.DataFrame) -> FrameFile:
        """Write frame ``name`` of a variant run; its record (rows, sha256) for the manifest."""
        if name not in FRAME_NAMES:
            raise ValueError(f"unknown frame {name!r}")
        path = self.path / dirname / f"{name}.parquet"
        store.write_frame(path, coerce_frame(name, frame, str(path)))
        return FrameFile(name=name, rows=len(frame), sha256=sha256_of(path))

    # ---- reading ----------------------------------------------------------------------------

    def read_manifest(self) -> Manifest:
        """The manifest, strictly (InputError for a folder that is not a run folder of this
        schema version; IncompleteRunError for a damaged one)."""
        if not self.path.is_dir():
            raise InputError(f"{self.path}: no such run folder")
        if not self.manifest_path.is_file():
            raise InputError(f"{self.manifest_path}: missing (is {self.path} a pgstampede run "
                             "folder?)")
        return self._read(self.manifest_path, Manifest)

    def has_summary(self) -> bool:
        return self.summary_path.is_file()

    def read_summary(self) -> Summary:
        if not self.has_summary():
            raise IncompleteRunError(f"{self.summary_path}: missing; the run did not finish "
                                     "writing its results (`pgstampede report` rebuilds it)")
        return self._read(self.summary_path, Summary)

    def _read(self, path: Path, cls: type[T]) -> T:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IncompleteRunError(f"{path}: unreadable ({exc})") from None
        version = data.get("schema_version") if isinstance(data, Mapping) else None
        if version != SCHEMA_VERSION:
            raise InputError(f"{path}: schema_version {version!r}; this pgstampede reads run "
                             f"folders of schema version {SCHEMA_VERSION} (re-run the scenario, "
                             "or read it with the pgstampede that wrote it)")
        return decode(cls, data, str(path))

    def variant_dir(self, record: VariantRecord) -> Path:
        return self.path / record.dir

    def load_variant(self, record: VariantRecord) -> LoadedVariant:
        """The frames of a variant run, each verified against its record."""
        directory = self.variant_dir(record)
        frames = {name: empty_frame(name) for name in FRAME_NAMES}
        problems: list[Problem] = []
        for recorded in record.frames:
            frame, problem = _verified(directory / recorded.filename, recorded,
                                       f"{record.dir}/{recorded.filename}")
            if problem is not None:
                problems.append(problem)
            else:
                frames[recorded.name] = frame
        return LoadedVariant(record=record, directory=directory, frames=frames,
                             file_problems=tuple(problems))

    def load_variants(self, manifest: Manifest) -> tuple[LoadedVariant, ...]:
        return tuple(self.load_variant(v) for v in manifest.variants)


def _verified(path: Path, recorded: FrameFile, shown: str
              ) -> tuple[pd.DataFrame, Problem | None]:
    """The frame in ``path`` if it is the file that was written, else a problem naming it
    (``shown``: its path inside the run folder, so that a copied folder reads the same)."""
    def problem(reason: str) -> tuple[pd.DataFrame, Problem]:
        return empty_frame(recorded.name), Problem(source=shown, reason=reason)

    if not path.is_file():
        return problem(f"missing (the run wrote {recorded.rows} rows)")
    try:
        raw = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        return problem(f"unreadable parquet file ({exc})")
    if len(raw) != recorded.rows:
        return problem(f"holds {len(raw)} rows, the run wrote {recorded.rows}: the file was "
                       "emptied or truncated after the run")
    if sha256_of(path) != recorded.sha256:
        return problem("its content changed after the run (sha256 differs)")
    try:
        return coerce_frame(recorded.name, raw, str(path)), None
    except IncompleteRunError as exc:
        return problem(str(exc))

