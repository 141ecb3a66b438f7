"""How this folder reaches an app's interpreter: a folder holding only a link
``pgstampede_apphost`` to it (run by the harness, never by the app: nothing imports it there).

The platform puts that folder on its instances' ``PYTHONPATH`` (harness.platform.launch); the
persistent server appends it to the app's sys.path (harness.app.served). Nothing else of the
harness, and none of its packages, is visible to the app.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = "pgstampede_apphost"


def expose(workdir: Path) -> Path:
    """``WORKDIR/apphost`` holding only ``pgstampede_apphost`` (a link to this folder)."""
    path_dir = workdir.resolve() / "apphost"
    path_dir.mkdir(parents=True, exist_ok=True)
    link = path_dir / PACKAGE
    source = Path(__file__).resolve().parent
    if not (link.is_symlink() and link.resolve() == source):
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(source, target_is_directory=True)
    return path_dir
