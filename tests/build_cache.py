"""Build once, share: expensive test inputs kept in a folder named by what they are built from.

An app's virtualenv, ``npm ci`` + ``next build``, a wheel: minutes each, the same for every
test that uses them. :func:`built_once` builds one into a folder of the cache named by
``name`` and the sha256 of its sources (the bytes of every file, by path, ``IGNORED`` folders
apart) and of ``extra`` (what else decides the result: the interpreter's version, a flag), and
returns that folder; later calls, in this run or the next, find it complete and return it at
once. A file lock makes a second process (another worktree's run) wait for the build instead
of doing it twice; a build that failed or was interrupted is not marked complete and is done
again from scratch. The build runs in its final folder (a virtualenv or ``.next`` records its
own path): tests read the folder and copy what they change.

Use it from a session-scoped fixture, so a run asks once::

    @pytest.fixture(scope="session")
    def shop_build() -> Path:
        app = EXAMPLES / "next-shop"
        def build(folder: Path) -> None:
            shutil.copytree(app, folder, dirs_exist_ok=True, ignore=ignore_patterns(*IGNORED))
            log = folder.with_suffix(".log")
            run_logged(["npm", "ci"], folder, log)
            run_logged(["npx", "next", "build"], folder, log)
        return built_once("next-shop", [app], build, extra=node_version())

The cache is ``$PGSTAMPEDE_TEST_BUILDS`` or ``/tmp/pgstampede-test-builds``; delete a folder
there (or all of it) to force a rebuild.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

CACHE_VAR = "PGSTAMPEDE_TEST_BUILDS"
DEFAULT_CACHE = Path("/tmp/pgstampede-test-builds")
IGNORED = ("__pycache__", "node_modules", ".next", ".venv", ".pytest_cache", ".mypy_cache")
"""Folders never hashed (what a build makes, caches): they are outputs, not sources."""
COMPLETE = ".pgstampede-complete"
BUILD_TIMEOUT_S = 900.0


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_VAR, DEFAULT_CACHE))


IGNORED_PARTS = frozenset(IGNORED)


def _files(source: Path) -> Iterator[Path]:
    if source.is_file():
        yield source
        return
    for path in sorted(source.rglob("*")):
        if path.is_file() and not IGNORED_PARTS.intersection(path.relative_to(source).parts):
            yield path


def source_hash(sources: Sequence[Path], extra: str = "") -> str:
    """sha256 of the sources' files (each by its path below its source, and its bytes)."""
    digest = hashlib.sha256(extra.encode())
    for source in sources:
        for path in _files(source):
            digest.update(f"\0{source.name}/{path.relative_to(source.parent)}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def built_once(name: str, sources: Sequence[Path], build: Callable[[Path], None], *,
               extra: str = "", cache: Path | None = None) -> Path:
    """The folder ``build`` filled from ``sources``; built only when no complete one exists."""
    root = cache or cache_root()
    root.mkdir(parents=True, exist_ok=True)
    folder = root / f"{name}-{source_hash(sources, extra)}"
    with open(root / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / COMPLETE).exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / COMPLETE).write_text(extra)
    return folder


def run_logged(argv: Sequence[str], cwd: Path, log: Path,
               env: dict[str, str] | None = None) -> None:
    """Run one build step, its output appended to ``log``; a failure names the step and log."""
    with open(log, "a") as out:
        done = subprocess.run(list(argv), stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                              env=env, timeout=BUILD_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed in {cwd} (exit {done.returncode}); "
                           f"see {log}")
