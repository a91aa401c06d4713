"""The deploy's artifact: exactly the tested commit, packed into a deterministic zip.

``pack`` reads the commit with ``git archive`` (never the work tree: untracked files and
local edits are never shipped, and ``.gitattributes`` ``export-ignore`` is honoured, from
the commit's own attributes), keeps the working-directory's subtree as the artifact's
root, and writes a zip with sorted members, a fixed time (1980-01-01) and normalised
permissions: the same commit (and wheels) gives the same bytes, so the same sha256 and
the same S3 key, with the same zlib (the action's image). Wheels and other already
compressed files (by suffix, or a first 8 KiB that does not shrink) are stored, the
rest deflated.

With a ``WheelTarget``, the committed requirements are downloaded as wheels for the
servers' platform and Python into ``.wheelhouse/`` (wheelhouse.py); a requirement with no
such wheel is an ActionError naming it, before anything is sent.

Members: the app's files, ``.wheelhouse/*.whl``, and ``DEPLOY_ARTIFACT.json`` (commit,
working directory, files, wheelhouse), which the agent reads (agent/artifact.py).
The upload to S3 is in artifact_store.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess  # nosec B404 # git archive
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ssm_action.contract.artifact import MANIFEST, READY, WHEELHOUSE, unsafe_name
from ssm_action.errors import ActionError
from ssm_action.deploy.wheelhouse import WheelTarget, download_wheels

RESERVED = (MANIFEST, WHEELHOUSE, READY)  # names the agent writes or reads
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
UNIX = 3
STORED_SUFFIXES = (".whl", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".jar", ".png", ".jpg", ".jpeg",
                   ".gif", ".webp", ".woff", ".woff2", ".pyz")
SAMPLE = 8 * 1024


@dataclass(frozen=True)
class Artifact:
    path: Path
    commit: str
    sha256: str
    size: int
    files: tuple[str, ...]  # the app's files, as the release will hold them
    wheels: tuple[str, ...]  # file names in .wheelhouse/

    def key(self, prefix: str) -> str:
        """The content address: ``<prefix>/artifacts/<commit>-<sha256>.zip``."""
        return "/".join(p for p in (prefix.strip("/"), "artifacts",
                                    f"{self.commit}-{self.sha256}.zip") if p)


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # nosec B603 B607 # git from PATH, arguments built here
        ["git", "-c", "safe.directory=*", "-C", str(repo), *args], capture_output=True,
        timeout=600, check=False)


def resolve_commit(repo: Path, commit: str) -> str:
    """The full commit id; ActionError when the checkout lacks it."""
    done = _git(repo, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
    if done.returncode or not re.fullmatch(rb"[0-9a-f]{40}\s*", done.stdout):
        raise ActionError("Artifact not packed", f"commit {commit} is not in the checkout at {repo}: "
                          "check out the commit to deploy (actions/checkout) before this step.",
                          anchor="artifact-delivery")
    return done.stdout.decode().strip()


def committed_files(repo: Path, commit: str, subdir: str = "") -> dict[str, tuple[int, bytes]]:
    """path -> (mode, bytes) of the commit's files under ``subdir``, paths relative to it."""
    prefix = PurePosixPath(subdir.strip("/")).as_posix() if subdir.strip("/.") else ""
    done = _git(repo, "archive", "--format=tar", commit, *(["--", prefix] if prefix else []))
    if done.returncode:
        raise ActionError("Artifact not packed", f"git archive of {commit} failed: "
                          f"{done.stderr.decode(errors='replace').strip()}; check working-directory "
                          f"({subdir or '.'}) is a folder of that commit.", anchor="artifact-delivery")
    files: dict[str, tuple[int, bytes]] = {}
    with tarfile.open(fileobj=io.BytesIO(done.stdout), mode="r|") as archive:
        for member in archive:
            name = member.name[len(prefix) + 1:] if prefix else member.name
            if member.issym() or member.islnk():
                raise ActionError("Artifact not packed", f"{member.name} in commit {commit} is a link: "
                                  "an artifact carries regular files only; replace it with the file, or "
                                  "mark it export-ignore in .gitattributes.", anchor="artifact-delivery")
            why = unsafe_name(name, False)  # the Windows-only names: refused by a Windows server's agent
            if why and member.isfile():
                raise ActionError("Artifact not packed", f"{member.name} in commit {commit} has {why}, which "
                                  "a server refuses to unpack: rename it.", anchor="artifact-delivery")
            if member.isfile():
                stream = archive.extractfile(member)
                assert stream is not None  # nosec B101 # a regular file has content
                files[name] = (0o755 if member.mode & 0o100 else 0o644, stream.read())
    clash = sorted(n for n in files if n.split("/")[0] in RESERVED)
    if clash:
        raise ActionError("Artifact not packed", f"the commit holds {clash[0]}, a name the deploy agent "
                          f"uses itself ({', '.join(RESERVED)}): rename it.", anchor="artifact-delivery")
    return files


def manifest(commit: str, subdir: str, files: list[str], target: WheelTarget | None,
             wheels: list[str], requirements_file: str) -> bytes:
    wheelhouse = {"platform": target.platforms[0], "python_version": target.python_version,
                  "wheels": wheels} if target else None
    return json.dumps({"format": 1, "commit": commit, "working_directory": subdir or ".",
                       "requirements_file": requirements_file, "files": files,
                       "wheelhouse": wheelhouse}, indent=1, sort_keys=True).encode()


def _compressible(name: str, data: bytes) -> bool:
    """Worth deflating: not a compressed format, and its first 8 KiB shrink by 5% or more
    (deflating incompressible bytes costs time for nothing). Decided by the content alone."""
    if name.lower().endswith(STORED_SUFFIXES):
        return False
    sample = data[:SAMPLE]
    return len(zlib.compress(sample, 1)) < len(sample) * 0.95


def write_zip(path: Path, members: dict[str, tuple[int, bytes]]) -> str:
    """A deterministic zip of ``members`` (name -> (mode, bytes)); its sha256."""
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(members):
            mode, data = members[name]
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.create_system = UNIX
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED if _compressible(name, data) else zipfile.ZIP_STORED
            archive.writestr(info, data, compresslevel=6)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pack(repo: Path, commit: str, out_dir: Path, subdir: str = "",
         requirements_file: str = "requirements.txt", wheels: WheelTarget | None = None) -> Artifact:
    """The artifact of ``commit`` (its ``subdir``), with a wheelhouse for ``wheels`` if given."""
    commit = resolve_commit(repo, commit)
    files = committed_files(repo, commit, subdir)
    members = dict(files)
    wheel_names: list[str] = []
    if wheels is not None and requirements_file in files:
        with tempfile.TemporaryDirectory(prefix="ssm-action-wheels-") as tmp:
            source = Path(tmp) / "src"
            for name, (_, data) in files.items():  # the committed tree: -r/-c includes resolve
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                (source / name).write_bytes(data)
            for wheel in download_wheels(source / requirements_file, Path(tmp) / "wheels", wheels):
                members[f"{WHEELHOUSE}/{wheel.name}"] = (0o644, wheel.read_bytes())
                wheel_names.append(wheel.name)
    names = sorted(files)
    members[MANIFEST] = (0o644, manifest(commit, subdir, names, wheels, wheel_names, requirements_file))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{commit}.zip"
    digest = write_zip(path, members)
    return Artifact(path, commit, digest, path.stat().st_size, tuple(names), tuple(wheel_names))


def describe(artifact: Artifact, bucket: str, prefix: str, limit: int = 200) -> list[str]:
    """What a dry run shows: where it would go, size, sha256, the files (nothing uploaded)."""
    lines = [f"artifact of {artifact.commit}: {artifact.size} bytes, sha256 {artifact.sha256}",
             f"would be stored at s3://{bucket}/{artifact.key(prefix)} (not uploaded: dry run)",
             f"{len(artifact.files)} file(s), {len(artifact.wheels)} wheel(s):"]
    entries = [*artifact.files, *(f"{WHEELHOUSE}/{w}" for w in artifact.wheels)]
    lines += [f"  {name}" for name in entries[:limit]]
    if len(entries) > limit:
        lines.append(f"  ... and {len(entries) - limit} more")
    return lines
