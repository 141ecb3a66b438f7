"""The docs say only what exists: every ``pgstampede`` flag, scenario key and metric a doc
names is one the code has, no doc holds an absolute path outside the repository, and every
TOML block loads with the scenario loader.

What is read as a name (in README.md, docs/**/*.md, examples/*/README.md):

- a flag: ``--x`` after ``pgstampede SUBCOMMAND`` (or ``python -m harness SUBCOMMAND``) in a
  code span or a code block line (and its continuation lines), checked against that
  subcommand; a code span that starts with ``--`` is a flag of some subcommand (name another
  tool's flag with the tool: ``locust --processes``);
- a scenario key: a code span ``[section] key`` (``[load] processes``) or ``[section]``, and
  a dotted code span that starts with a section (``load.slow_ms``);
- a metric: a dotted code span that starts with a metric's namespace (``faults.reconnected``,
  ``*.db.refused``), unless it names a file or a module of the repository;
- a TOML block (```` ```toml ````) is a whole scenario, or, marked ``<!-- partial -->`` on
  the line before it, a part of one, loaded inside a minimal scenario. Files it names
  (``schema``, ``python``...) are created empty in a scratch folder: the keys are checked,
  not the files.
"""

from __future__ import annotations

import re
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.docs import doc_files

_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
_SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)")
_COMMAND = re.compile(r"(?:pgstampede|python -m harness)\s+([a-z][a-z-]*)((?:\s+build)?)(.*)")
_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
_SECTION_SPAN = re.compile(r"^\[\[?([a-z_.*]+)\]\]?(?:\s+([a-z_]+))?(?:\s*=.*)?$")
_DOTTED = re.compile(r"^[A-Za-z0-9_*<>+-]+(?:\.[A-Za-z0-9_<>*-]+)+$")
_ABSOLUTE = re.compile(r"(?<![\w.:~}$/\]>)-])(/[A-Za-z][\w.-]*(?:/[\w.*<>{}-]+)+)")
PARTIAL = "<!-- partial -->"
REPO = Path(__file__).resolve().parents[2]  # where the modules a doc names are
USER_ROOTS = ("home", "root", "Users", "work", "workspace", "mnt", "srv")
FILE_SUFFIXES = {"parquet", "json", "jsonl", "log", "csv", "md", "py", "toml", "html", "txt",
                 "sql", "pid", "yml", "yaml", "ini", "sock", "svg", "png", "js", "mjs", "ts",
                 "sh", "cfg", "lock", "xml", "whl", "gz"}


@dataclass(frozen=True)
class Names:
    """What exists: flags per subcommand, keys per section, metrics."""

    flags: dict[str, set[str]]
    keys: dict[str, set[str]]  # section path -> its keys ("" = top level)
    metrics: set[str]

    @property
    def namespaces(self) -> set[str]:
        """The first part of every metric's name (``faults`` of ``faults.reconnected``)."""
        return {m.split(".")[0] for m in self.metrics}

    @staticmethod
    def of_code() -> Names:
        from harness.cli import build_parser
        from harness.docs.cli_reference import flags
        from harness.results.metrics import METRICS
        from harness.scenario.reference import key_sections

        keys = {s.path: {k.name for k in s.keys} for s in key_sections()}
        return Names(flags=flags(build_parser()), keys=keys, metrics=set(METRICS))

    def is_metric(self, name: str) -> bool:
        if name in self.metrics:
            return True
        if "<" not in name and "*" not in name:
            return False
        parts = ["[^.]+" if p == "*" or "<" in p else re.escape(p) for p in name.split(".")]
        pattern = re.compile("^" + r"\.".join(parts) + "$")
        return any(pattern.match(m) for m in self.metrics)


def _spans(path: Path) -> Iterator[tuple[int, str]]:
    """Every code span of the prose of ``path`` (a span may cross a line break): the line it
    starts on, its text on one line."""
    paragraph: list[tuple[int, str]] = []

    def flush() -> Iterator[tuple[int, str]]:
        if not paragraph:
            return
        first, text = paragraph[0][0], "\n".join(line for _, line in paragraph)
        for match in _SPAN.finditer(text):
            line = first + text.count("\n", 0, match.start())
            yield line, " ".join(match.group(1).split())
        paragraph.clear()

    for number, line, inside in _lines(path):
        if inside or not line.strip():
            yield from flush()
        else:
            paragraph.append((number, line))
    yield from flush()


def _lines(path: Path) -> Iterator[tuple[int, str, bool]]:
    """Each line of ``path``: its number, its text, and whether it is inside a code block."""
    inside = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if _FENCE.match(line):
            inside = not inside
            continue
        yield number, line, inside


def _commands(path: Path) -> Iterator[tuple[int, str, str]]:
    """Every ``pgstampede SUBCOMMAND ...`` in ``path``: line, subcommand, the rest."""
    last: tuple[int, str] | None = None
    for number, line, inside in _lines(path):
        if not inside:
            last = None
            continue
        text = line.split(" #", 1)[0]
        if last is not None and line.startswith(" ") and not _COMMAND.search(line):
            yield last[0], last[1], text  # a continuation line of the last command
            continue
        last = None
        match = _COMMAND.search(text)
        if match:
            last = (number, match.group(1) + match.group(2))
            yield number, last[1], match.group(3)
    for number, span in _spans(path):
        match = _COMMAND.search(span)
        if match:
            yield number, match.group(1) + match.group(2), match.group(3)


def _flag_problems(path: Path, names: Names) -> Iterator[tuple[int, str]]:
    every = set().union(*names.flags.values())
    for number, sub, rest in _commands(path):
        if sub not in names.flags:
            if sub not in ("--help", "-h"):
                yield number, f"names `pgstampede {sub}`, which is no subcommand"
            continue
        for flag in _FLAG.findall(rest):
            if flag not in names.flags[sub] and flag != "--help":
                yield number, f"names `pgstampede {sub} {flag}`, which is no flag of {sub}"
    for number, span in _spans(path):
        if span.startswith("--"):
            flag = _FLAG.match(span)
            if flag and flag.group(1) not in every and flag.group(1) != "--help":
                yield number, (f"names `{flag.group(1)}`, which is no pgstampede flag "
                               "(name another tool's flag with the tool)")


def _section_path(raw: str, names: Names) -> str | None:
    """The section a ``[raw]`` names (``target.*`` matches any ``target.`` section; a table
    key is a section too: ``[app.env]``)."""
    if raw in names.keys:
        return raw
    if raw.endswith(".*") and any(p.startswith(raw[:-1]) for p in names.keys):
        return raw
    parent, _, key = raw.rpartition(".")
    if parent in names.keys and key in names.keys[parent]:
        return raw
    return None


def _is_module(dotted: str) -> bool:
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        base = REPO.joinpath(*parts[:n])
        if base.with_suffix(".py").is_file() or base.is_dir():
            return True
    return False


def _dotted_problem(span: str, names: Names) -> str | None:
    parts = span.split(".")
    if parts[-1] in FILE_SUFFIXES or _is_module(span):
        return None
    if any(names.is_metric(".".join(parts[i:])) for i in range(len(parts))):
        return None
    for n in range(len(parts) - 1, 0, -1):
        section = ".".join(parts[:n])
        if section in names.keys:
            rest = ".".join(parts[n:])
            if rest in names.keys[section] or f"{section}.{rest}" in names.keys:
                return None
            if not re.fullmatch(r"\w+", rest):
                return None
            if parts[0] in names.namespaces:
                return f"names `{span}`, which is neither a scenario key nor a metric"
            return f"names scenario key `{span}`, which does not exist"
    if parts[0] in names.namespaces and not any("<" in p for p in parts):
        return f"names metric `{span}`, which does not exist"
    return None


def _key_problems(path: Path, names: Names) -> Iterator[tuple[int, str]]:
    for number, span in _spans(path):
        section = _SECTION_SPAN.match(span)
        if section and section.group(1).split(".")[0] in names.keys[""]:
            found = _section_path(section.group(1), names)
            key = section.group(2)
            if found is None:
                yield number, f"names section `[{section.group(1)}]`, which does not exist"
            elif key and found in names.keys and key not in names.keys[found] \
                    and f"{found}.{key}" not in names.keys:
                yield number, f"names scenario key `[{found}] {key}`, which does not exist"
            continue
        if _DOTTED.match(span):
            problem = _dotted_problem(span, names)
            if problem:
                yield number, problem


def _path_problems(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    for number, line, _ in _lines(path):
        for match in _ABSOLUTE.finditer(line):
            found = Path(match.group(1))
            top = found.parts[1]
            if top in USER_ROOTS and not found.is_relative_to(root):
                yield number, f"holds `{found}`, an absolute path outside the repository"
            elif found.is_relative_to(root):
                yield number, f"holds `{found}`: write it relative to the repository"


def toml_blocks(path: Path) -> Iterator[tuple[int, str, bool]]:
    """Every TOML block of ``path``: its first line, its text, and whether it is partial."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence and fence.group(2) == "toml":
            indent, start = len(fence.group(1)), i + 1
            partial = i > 0 and lines[i - 1].strip() == PARTIAL
            i += 1
            while i < len(lines) and not _FENCE.match(lines[i]):
                i += 1
            body = "\n".join(line[indent:] for line in lines[start:i])
            yield start, body, partial
        elif fence:
            i += 1
            while i < len(lines) and not _FENCE.match(lines[i]):
                i += 1
        i += 1


MINIMAL: dict[str, Any] = {
    "name": "doc",
    "load": {"stages": [{"duration": "60s", "users": 1}]},
    "variants": [{"name": "persistent", "target": "persistent"},
                 {"name": "persistent+pgbouncer", "target": "persistent",
                  "pooler": "pgbouncer"},
                 {"name": "serverless", "target": "serverless"}],
}


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


APP_KINDS = ("asgi", "wsgi", "command", "node")


def _minimal_around(block: Mapping[str, Any]) -> dict[str, Any]:
    """A partial block inside :data:`MINIMAL`, with what its keys need: an ``[app]`` (a
    command, unless the block says which app) when it has an ``[app]`` table or a variant's
    ``app_env``, and then requests to send."""
    data = _merged(MINIMAL, block)
    found = data.get("variants")
    variants: list[Any] = found if isinstance(found, list) else []
    wants_app = "app" in data or any(isinstance(v, dict) and "app_env" in v for v in variants)
    if wants_app:
        app = data.setdefault("app", {})
        if isinstance(app, dict) and not any(kind in app for kind in APP_KINDS):
            app["command"] = ["true"]
        if isinstance(data["load"], dict) and "locustfile" not in data["load"]:
            data["load"].setdefault("paths", {"GET /": 1})
    return data


_MISSING = re.compile(r"no such (file|folder|executable): (.+)$|expected a (file) relative to "
                      r"root \((.+)\), got '(.+)'$")


def load_block(body: str, partial: bool, scratch: Path) -> str | None:
    """Why the scenario loader refuses a TOML block (None: it loads). Files it names are
    created in ``scratch`` as they are asked for."""
    from harness.errors import ScenarioError
    from harness.scenario import parse_scenario

    try:
        data = tomllib.loads(body)
    except tomllib.TOMLDecodeError as exc:
        return f"invalid TOML: {exc}"
    if partial:
        data = _minimal_around(data)
    for _ in range(10):
        try:
            parse_scenario(data, str(scratch / "scenario.toml"))
            return None
        except ScenarioError as exc:
            missing = _MISSING.search(exc.expected)
            if missing is None:
                return str(exc).replace(str(scratch / "scenario.toml") + ": ", "")
            kind = missing.group(1) or missing.group(3)
            made = Path(missing.group(2) or Path(missing.group(4)) / missing.group(5))
            if not made.resolve().is_relative_to(scratch.resolve()):
                return str(exc)
            if kind == "folder":
                made.mkdir(parents=True, exist_ok=True)
            else:
                made.parent.mkdir(parents=True, exist_ok=True)
                made.write_text("#!/bin/sh\n")
                made.chmod(0o755)
    return "names too many files"


def _toml_problems(path: Path) -> Iterator[tuple[int, str]]:
    for line, body, partial in toml_blocks(path):
        with tempfile.TemporaryDirectory(prefix="pgstampede-docs-") as scratch:
            why = load_block(body, partial, Path(scratch))
        if why:
            kind = "a partial scenario" if partial else f"a scenario (or mark it {PARTIAL})"
            yield line, f"TOML block is not {kind}: {why}"


def problems(root: Path, names: Names | None = None) -> list[str]:
    """Every place a doc names what does not exist: ``file:line: what``."""
    names = names or Names.of_code()
    out = []
    for path in doc_files(root):
        found = [*_flag_problems(path, names), *_key_problems(path, names),
                 *_path_problems(path, root), *_toml_problems(path)]
        out += [f"{path.relative_to(root)}:{line}: {what}" for line, what in sorted(found)]
    return out
