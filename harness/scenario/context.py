"""What a section parser needs from the loader: where the file is, and how to complain."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from harness.errors import ScenarioError


class SectionContext(Protocol):
    """The file being loaded (``harness.scenario.loader._Ctx``)."""

    path: str

    @property
    def base(self) -> Path:
        """The folder relative paths in the file are resolved against (absolute)."""
        ...

    def error(self, key: str, expected: str) -> ScenarioError: ...

    def table(self, value: object, key: str) -> dict[str, Any]: ...

    def no_unknown(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None: ...


def resolve_path(ctx: SectionContext, value: object, key: str, *, kind: str) -> str:
    """``value`` (a path relative to the scenario file) as an absolute path that exists;
    ``kind`` is "file" or "folder"."""
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(key, f"expected a path to a {kind}, got {value!r}")
    path = (ctx.base / Path(value).expanduser()).resolve()
    exists = path.is_file() if kind == "file" else path.is_dir()
    if not exists:
        raise ctx.error(key, f"no such {kind}: {path}")
    return str(path)
