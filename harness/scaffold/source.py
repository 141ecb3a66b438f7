"""Reading an app's folder without running it: its Python files (as modules), the
environment variables its code reads, the modules it imports, the candidates for its entry
point, its virtualenv, schema and migrations (a Node app's: ``node.py``).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.scaffold.findings import EnvRead

MAX_FILES = 2000
MAX_BYTES = 1_000_000
SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "dist-packages", "build",
             "dist", ".git", ".hg", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
             ".ruff_cache", ".next", "coverage", "tests", "test"}
VENVS = (".venv", "venv")
SCHEMAS = ("schema.sql", "db/schema.sql", "sql/schema.sql", "database/schema.sql")
NODE_EXTS = (".js", ".mjs", ".cjs", ".ts", ".mts")
_PY_ENV = re.compile(
    r"""(?:\benviron\s*(?:\[|\.get\s*\()|\bgetenv\s*\(|"""
    r"""\b(?:env|config)(?:\.(?:str|int|bool|float|db|db_url|url|json|list))?\s*\()"""
    r"""\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]"""
    r"""(?:\s*,\s*(?:['"]([^'"\n]*)['"]|(-?\d+(?:\.\d+)?)))?""")
_JS_ENV = re.compile(r"""\bprocess\.env(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*['"]"""
                     r"""([A-Za-z_][A-Za-z0-9_]*)['"]\s*\])"""
                     r"""(?:\s*(?:\|\||\?\?)\s*(?:['"]([^'"\n]*)['"]|(-?\d+(?:\.\d+)?)))?""")
_FRAMEWORK_CALL = re.compile(r"\b(FastAPI|Starlette|Flask|Quart)\s*\(|"
                             r"\bget_(?:w|a)sgi_application\s*\(|\bdef\s+(?:create|make|build)"
                             r"_app\s*\(")
_ENTRY_NAMES = ("main", "app", "asgi", "wsgi", "server", "api", "application")


@dataclass(frozen=True)
class PythonFile:
    path: Path  # absolute
    module: str  # dotted name, importable with ``root`` first on sys.path
    root: Path  # the folder above its top-level package
    text: str


def is_venv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").exists()


def walk(base: Path, exts: tuple[str, ...]) -> Iterator[Path]:
    """Files under ``base`` with these extensions, without virtualenvs, dependencies, tests
    and hidden folders; at most MAX_FILES."""
    count = 0
    for folder, dirs, files in os.walk(base):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                         and not is_venv(here / d))
        for name in sorted(files):
            if name.endswith(exts):
                count += 1
                if count > MAX_FILES:
                    return
                yield here / name


def read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_BYTES:
            return ""
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def module_of(path: Path) -> tuple[str, Path]:
    """The dotted module name of a Python file and the folder to put on sys.path for it:
    the first folder up that is not a package (has no ``__init__.py``)."""
    parts = [path.stem] if path.stem != "__init__" else []
    folder = path.parent
    while (folder / "__init__.py").exists() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), folder


def python_files(base: Path) -> list[PythonFile]:
    out = []
    for path in walk(base, (".py",)):
        module, root = module_of(path)
        if module and all(p.isidentifier() for p in module.split(".")):
            out.append(PythonFile(path, module, root, read_text(path)))
    return out


def env_reads(files: list[tuple[Path, str]], base: Path) -> list[EnvRead]:
    """Every ``os.environ[...]``, ``os.environ.get(...)``, ``os.getenv(...)``,
    ``environ.get(...)``, ``env(...)`` / ``config(...)`` (django-environ, python-decouple),
    pydantic settings fields and ``process.env.X`` in the files, with the default written
    beside it when there is one (first occurrence of each name)."""
    seen: dict[str, EnvRead] = {}
    for path, text in files:
        pattern = _JS_ENV if path.suffix in NODE_EXTS else _PY_ENV
        if pattern is _PY_ENV:
            for field, row, value in settings_fields(text):
                seen.setdefault(field, EnvRead(field, f"{path.relative_to(base)}:{row}", value))
        for match in pattern.finditer(text):
            name = match.group(1) or (match.group(2) if pattern is _JS_ENV else None)
            default = _default(match, 2 if pattern is _PY_ENV else 3)
            if name and name not in seen:
                line = text.count("\n", 0, match.start()) + 1
                seen[name] = EnvRead(name, f"{path.relative_to(base)}:{line}", default)
    return list(seen.values())


def settings_fields(text: str) -> list[tuple[str, int, str | None]]:
    """(variable, line, default) of the fields of pydantic ``BaseSettings`` classes: the
    field's name in capitals after the class's ``env_prefix``."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef) or not any(
                ast.unparse(b).endswith("BaseSettings") for b in node.bases):
            continue
        prefix = _env_prefix(node)
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                value = item.value
                default = str(value.value) if isinstance(value, ast.Constant) \
                    and value.value is not None else None
                out.append(((prefix + item.target.id).upper(), item.lineno, default))
    return out


def _env_prefix(cls: ast.ClassDef) -> str:
    """``model_config = SettingsConfigDict(env_prefix="X")`` or ``class Config``'s."""
    for node in ast.walk(cls):
        if isinstance(node, ast.keyword) and node.arg == "env_prefix" \
                and isinstance(node.value, ast.Constant):
            return str(node.value.value)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "env_prefix"
                                                for t in node.targets) \
                and isinstance(node.value, ast.Constant):
            return str(node.value.value)
    return ""


def _default(match: re.Match[str], first: int) -> str | None:
    """The default written beside the variable: a string, else a number."""
    text, number = match.group(first), match.group(first + 1)
    return text if text is not None else number


def entry_candidates(files: list[PythonFile]) -> list[PythonFile]:
    """Modules that may define the app: those that build a framework's app object or
    define a factory, the likely names first."""
    found = [f for f in files if _FRAMEWORK_CALL.search(f.text)]

    def order(f: PythonFile) -> tuple[int, int, str]:
        stem = f.module.rsplit(".", 1)[-1]
        named = _ENTRY_NAMES.index(stem) if stem in _ENTRY_NAMES else len(_ENTRY_NAMES)
        return (stem == "asgi", named, f.module)  # Django: WSGI before ASGI

    return sorted(found, key=order)


def imported_modules(files: list[PythonFile]) -> list[str]:
    """Absolute imports of the app's files that are not its own modules."""
    own = {f.module.split(".")[0] for f in files}
    names: set[str] = set()
    for f in files:
        try:
            tree = ast.parse(f.text)
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return sorted(n for n in names if n.split(".")[0] not in own
                  and n.split(".")[0] != "__future__")


def find_venv(base: Path) -> Path | None:
    """``.venv/bin/python`` or ``venv/bin/python`` under ``base``."""
    for name in VENVS:
        python = base / name / "bin" / "python"
        if python.exists() and os.access(python, os.X_OK):
            return python
    return None


def find_schema(base: Path) -> Path | None:
    for name in SCHEMAS:
        if (base / name).is_file():
            return base / name
    return None


def has_alembic(base: Path) -> bool:
    return (base / "alembic.ini").is_file()


def django_manage(base: Path) -> bool:
    return "DJANGO_SETTINGS_MODULE" in read_text(base / "manage.py")
