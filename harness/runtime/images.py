"""``pgstampede images build [--offline]``: the Docker images of the docker runtime.

:data:`IMAGES` lists them. Each is built from its Dockerfile under ``compose/`` (``FROM`` a
Debian base, :attr:`ImageSpec.base`) with a build context holding exactly the files the image
copies — never the checkout's ``.venv`` or ``reports/`` — and is labelled
``pgstampede.source`` with a hash of those files, so the runtime can refuse an image built
from other sources. All start ``FROM debian:bookworm-slim`` except
``pgstampede/pgbouncer-trixie`` (``FROM debian:trixie-slim``: Debian trixie's PgBouncer 1.24,
which tracks prepared statements in transaction mode). ``--offline`` first makes each base
image locally when the engine lacks it: ``debootstrap --variant=minbase <release>`` from this
machine's Debian mirror, then ``docker import`` under the tag ``debian:<release>-slim``; the
same Dockerfiles then build with or without a registry. Builds use the host network (apt and
pip reach their mirrors).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound

from harness.errors import InputError, ServiceError
from harness.runtime.docker_engine import LABEL_SOURCE, connect

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = "debian:bookworm-slim"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SOURCES_DIRS = (Path("/etc/apt/sources.list.d"), Path("/etc/apt/sources.list"))
LOCAL_CAS = Path("/usr/local/share/ca-certificates")
# What the Python images' Dockerfiles COPY (tests/unit/test_image_sources.py keeps the two
# equal, and checks they hold every harness module the images' programs import)
PYTHON_SOURCES = ("compose/certs", "compose/python-requirements.txt", "harness/__init__.py",
                  "harness/errors.py", "harness/clock.py", "harness/results/__init__.py",
                  "harness/results/codec.py", "harness/results/endpoints.py",
                  "harness/results/platform_stats.py", "harness/results/target_env.py",
                  "harness/runtime/__init__.py", "harness/runtime/ports.py",
                  "harness/platform", "harness/apphost", "targets")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ImageSpec:
    """One image: its role in the runtime, its tag, its Dockerfile and the files it copies."""

    role: str
    tag: str
    dockerfile: str
    sources: tuple[str, ...]
    base: str = BASE_IMAGE  # the Dockerfile's FROM


def base_tag(release: str) -> str:
    """``debian:trixie-slim`` for ``trixie``."""
    return f"debian:{release}-slim"


def base_release(tag: str) -> str:
    """``trixie`` for ``debian:trixie-slim``."""
    return tag.removeprefix("debian:").removesuffix("-slim")


IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec("postgres", "pgstampede/postgres:latest", "compose/postgres/Dockerfile",
              ("compose/postgres/init.sql", "compose/postgres/entrypoint.sh",
               "harness/runtime/schema.sql")),
    ImageSpec("pgbouncer", "pgstampede/pgbouncer:latest", "compose/pgbouncer/Dockerfile",
              ("compose/pgbouncer/entrypoint.sh",)),
    ImageSpec("pgbouncer-trixie", "pgstampede/pgbouncer-trixie:latest",
              "compose/pgbouncer-trixie/Dockerfile", ("compose/pgbouncer/entrypoint.sh",),
              base=base_tag("trixie")),
    ImageSpec("pgpool", "pgstampede/pgpool:latest", "compose/pgpool/Dockerfile",
              ("compose/pgpool/entrypoint.sh",)),
    ImageSpec("persistent", "pgstampede/persistent:latest", "compose/persistent/Dockerfile",
              PYTHON_SOURCES),
    ImageSpec("instance", "pgstampede/instance:latest", "compose/instance/Dockerfile",
              PYTHON_SOURCES),
    ImageSpec("gateway", "pgstampede/gateway:latest", "compose/gateway/Dockerfile",
              (*PYTHON_SOURCES, "compose/gateway/entrypoint.sh")),
)


def image_spec(role: str) -> ImageSpec:
    for spec in IMAGES:
        if spec.role == role:
            return spec
    raise KeyError(role)


def context_files(spec: ImageSpec, root: Path = REPO) -> list[str]:
    """The files of the build context, relative to ``root``, sorted (no caches)."""
    if not (root / "compose").is_dir():
        raise InputError(f"images: no compose/ folder in {root}: the docker images are built "
                         "from a pgstampede checkout (git clone), not from an installed package")
    found = {spec.dockerfile}
    for source in spec.sources:
        path = root / source
        if path.is_dir():
            found.update(str(p.relative_to(root)) for p in path.rglob("*")
                         if p.is_file() and "__pycache__" not in p.parts
                         and p.suffix not in (".pyc", ".pyo"))
        elif path.is_file():
            found.add(source)
        else:
            raise InputError(f"images: {source} (a source of {spec.tag}) does not exist")
    return sorted(found)


def source_hash(spec: ImageSpec, root: Path = REPO) -> str:
    """A hash of the image's Dockerfile and sources: names, modes and contents."""
    digest = hashlib.sha256()
    for rel in context_files(spec, root):
        path = root / rel
        digest.update(f"{rel}\0{path.stat().st_mode & 0o111:o}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def local_cas(folder: Path = LOCAL_CAS) -> list[Path]:
    """This machine's local CA certificates (what ``update-ca-certificates`` adds)."""
    return sorted(p for p in folder.rglob("*.crt") if p.is_file()) if folder.is_dir() else []


def build_context(spec: ImageSpec, root: Path = REPO,
                  cas: list[Path] | None = None) -> io.BytesIO:
    """The build context as an uncompressed tar (paths as in the repository); images that
    copy ``compose/certs`` also get this machine's local CAs there (not part of the hash)."""
    files = [(root / rel, rel) for rel in context_files(spec, root)]
    if "compose/certs" in spec.sources:
        files += [(ca, f"compose/certs/local-{i}-{ca.name}")
                  for i, ca in enumerate(local_cas() if cas is None else cas)]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, arcname in files:
            info = tar.gettarinfo(str(path), arcname=arcname)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
    buffer.seek(0)
    return buffer


def build_image(client: docker.DockerClient, spec: ImageSpec, progress: Progress,
                root: Path = REPO) -> str:
    """Build one image (legacy builder, host network); its id."""
    progress(f"building {spec.tag} ({spec.dockerfile})")
    stream = client.api.build(
        fileobj=build_context(spec, root), custom_context=True, dockerfile=spec.dockerfile,
        tag=spec.tag, rm=True, forcerm=True, pull=False, network_mode="host", decode=True,
        labels={LABEL_SOURCE: source_hash(spec, root), "pgstampede.role": spec.role})
    image_id = ""
    output: collections.deque[str] = collections.deque(maxlen=3)
    for chunk in stream:
        image_id = _follow(spec, chunk, progress, output) or image_id
    return image_id or str(client.images.get(spec.tag).id)


def _follow(spec: ImageSpec, chunk: dict[str, Any], progress: Progress,
            output: collections.deque[str]) -> str:
    """Report a build step; raise on a build error (with the step's last output lines);
    the image id once announced."""
    if "error" in chunk:
        message = str(chunk["error"]).strip().splitlines()[-1][:300]
        hint = ""
        if spec.base in message or "pull access" in message or "registry" in message:
            hint = " (no registry reachable? run `pgstampede images build --offline`)"
        seen = " | ".join(output)
        raise ServiceError("images", f"building {spec.tag} failed: {message}{hint}"
                           + (f"; output: {seen}" if seen else ""))
    line = str(chunk.get("stream", "")).strip()
    if line.startswith("Step "):
        progress(f"  {spec.role}: {' '.join(line.split())[:100]}")
        output.clear()
    elif line and not line.startswith("---> "):
        output.extend(line.splitlines()[-3:])
    aux = chunk.get("aux")
    return str(aux.get("ID", "")) if isinstance(aux, dict) else ""


def debian_mirror(candidates: tuple[Path, ...] = SOURCES_DIRS) -> str:
    """The Debian mirror this machine's apt uses (deb822 ``URIs:`` or a ``deb`` line)."""
    files: list[Path] = []
    for cand in candidates:
        if cand.is_dir():
            files.extend(sorted(cand.glob("*.sources")) + sorted(cand.glob("*.list")))
        elif cand.is_file():
            files.append(cand)
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "URIs:" and "security" not in words[1]:
                return words[1]
            if len(words) >= 3 and words[0] == "deb" and "security" not in line:
                return next(w for w in words[1:] if "://" in w)
    return DEFAULT_MIRROR


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    with open("/proc/mounts") as fh:
        points = [line.split()[1] for line in fh if line.split()[1].startswith(prefix)]
    return sorted(points, key=len, reverse=True)


@contextlib.contextmanager
def _rootfs_dir() -> Iterator[Path]:
    """A temp folder for the base's root filesystem, removed (after unmounting) at the end."""
    folder = Path(tempfile.mkdtemp(prefix="pgstampede-rootfs-"))
    try:
        yield folder / "rootfs"
    finally:
        for point in _mounts_under(folder):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        subprocess.run(["rm", "-rf", "--one-file-system", str(folder)], check=False)


def make_base(client: docker.DockerClient, progress: Progress, mirror: str,
              release: str = "bookworm") -> str:
    """``debian:<release>-slim`` from debootstrap (about 25 s and 130 MB); its id."""
    if shutil.which("debootstrap") is None:
        raise InputError("images build --offline: debootstrap is not installed "
                         "(apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise InputError("images build --offline: debootstrap needs root")
    base = base_tag(release)
    with _rootfs_dir() as rootfs:
        progress(f"making {base} with debootstrap --variant=minbase {release} {mirror}")
        result = subprocess.run(["debootstrap", "--variant=minbase", release, str(rootfs),
                                 mirror], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
            raise ServiceError("images", f"debootstrap failed: {tail}")
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (rootfs / cache).glob("*"):
                if item.is_file():
                    item.unlink()
        progress(f"importing the root filesystem as {base}")
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."],
                               stdout=subprocess.PIPE)
        assert tar.stdout is not None
        try:
            repo, tag = base.split(":")
            client.api.import_image_from_stream(
                tar.stdout, repository=repo, tag=tag,
                changes=['CMD ["bash"]', "LABEL pgstampede.base=debootstrap"])
        finally:
            tar.stdout.close()
            tar.wait()
    return str(client.images.get(base).id)


def ensure_base(client: docker.DockerClient, progress: Progress, offline: bool,
                base: str = BASE_IMAGE) -> str | None:
    """The base image's id; made with debootstrap when missing and ``offline``."""
    try:
        image_id = str(client.images.get(base).id)
    except ImageNotFound:
        if not offline:
            progress(f"{base} is not local: the engine will pull it")
            return None
        return make_base(client, progress, debian_mirror(), base_release(base))
    progress(f"{base} present ({image_id[:19]})")
    return image_id


def build_images(offline: bool, progress: Progress, *, root: Path = REPO,
                 roles: tuple[str, ...] | None = None) -> dict[str, str]:
    """Build every image (or ``roles``); ``{tag: image id}`` including the base's."""
    client = connect()
    built: dict[str, str] = {}
    try:
        specs = [spec for spec in IMAGES if roles is None or spec.role in roles]
        for base in dict.fromkeys(spec.base for spec in specs):
            base_id = ensure_base(client, progress, offline, base)
            if base_id:
                built[base] = base_id
        for spec in specs:
            built[spec.tag] = build_image(client, spec, progress, root)
    except DockerException as exc:
        raise ServiceError("images", f"docker: {str(exc).strip()[:300]}") from None
    finally:
        client.close()
    return built
