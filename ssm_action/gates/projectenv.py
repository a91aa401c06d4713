"""The project's own virtual environment: built with uv (venv + pip without it),
cached under cache-directory and keyed by the requirements and the Python.

Layout of the cache (persist the whole folder with actions/cache):
  envs/<key>/                  the virtual environment
  envs/<key>/ssm-action-env.json  written last: what was installed
  envs/<key>.lock              held while an environment is checked or built
  uv/ or pip/                  the installer's download cache
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import shlex
import shutil
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ssm_action.config import GatesConfig as Config  # the gates see only their section
from ssm_action.gates import tools
from ssm_action.gates.process import GateLog

LAYOUT = "1"  # bump when the layout or the way environments are built changes
MARKER = "ssm-action-env.json"
DEV_REQUIREMENTS = "requirements-dev.txt"
TEST_EXTRAS = ("test", "tests")
RUNNERS = ("pytest", "pytest-cov")  # the tests gate runs them inside the project
INCLUDE_OPTIONS = ("-r", "--requirement", "-c", "--constraint")
# The installer's words for requirements that cannot be satisfied (uv; pip), as opposed to
# a failure to download or build. pip says the second also when its index is unreachable.
CONFLICT_WORDS = ("No solution found", "ResolutionImpossible", "No matching distribution found")


class EnvError(Exception):
    """The environment could not be built; conflict: the requirements cannot go together."""

    def __init__(self, message: str, conflict: bool = False):
        super().__init__(message)
        self.conflict = conflict


@dataclass(frozen=True)
class Requirements:
    files: tuple[str, ...]  # requirement files given to the installer, relative to the project
    project: str  # "" or the project itself with its test extra, e.g. ".[test]"
    hashed: tuple[tuple[str, bytes], ...]  # (name, content) of everything that decides the install


@dataclass(frozen=True)
class ProjectEnv:
    path: Path
    key: str
    installer: str  # uv or pip
    reused: bool

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        return next((self.path / "lib").glob("python*/site-packages"))

    def variables(self) -> dict[str, str]:
        """os.environ as a shell with this environment activated would have it. Bytecode is
        written as modules are imported (not all at install), so warm runs find it cached."""
        drop = ("PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env["VIRTUAL_ENV"] = str(self.path)
        env["PATH"] = f"{self.path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env


def find_requirements(cfg: Config) -> Requirements:
    root = cfg.working_directory
    names = [cfg.requirements_file, DEV_REQUIREMENTS]
    files = tuple(dict.fromkeys(n for n in names if (root / n).is_file()))
    if cfg.requirements_file != "requirements.txt" and cfg.requirements_file not in files:
        raise EnvError(f"requirements-file {cfg.requirements_file} does not exist in {root}.")
    hashed = list(_included(root, files))
    project = ""
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        if "project" in data:
            extras = data["project"].get("optional-dependencies", {})
            extra = next((e for e in TEST_EXTRAS if e in extras), "")
            project = f".[{extra}]" if extra else "."
            decisive = {k: data.get(k) for k in ("build-system", "project")}
            hashed.append(("pyproject.toml", json.dumps(decisive, sort_keys=True, default=str).encode()))
    return Requirements(files, project, tuple(hashed))


def _included(root: Path, files: tuple[str, ...]) -> Iterator[tuple[str, bytes]]:
    """The requirement files and every file they include with -r / -c, each once."""
    seen: set[str] = set()
    todo = list(files)
    while todo:
        name = todo.pop(0)
        path = root / name
        if name in seen or not path.is_file():
            continue
        seen.add(name)
        content = path.read_bytes()
        yield name, content
        for line in content.decode("utf-8", errors="replace").splitlines():
            included = _include(line)
            if included:
                todo.append(os.path.normpath(os.path.join(os.path.dirname(name), included)))


def _include(line: str) -> str:
    """The file named by a '-r file', '--requirement=file' or '-c file' line, or ''."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:  # not ours to judge: the installer reports a malformed line
        return ""
    if words and "=" in words[0]:
        words = words[0].split("=", 1) + words[1:]
    return words[1] if len(words) >= 2 and words[0] in INCLUDE_OPTIONS else ""


def cache_key(reqs: Requirements) -> str:
    """Changes with the requirements or the Python, and with nothing else."""
    digest = hashlib.sha256()
    python = (LAYOUT, sys.implementation.name, sys.version, getattr(sys, "_base_executable", sys.executable),
              reqs.project, *RUNNERS)
    digest.update(json.dumps(python).encode())
    for name, content in reqs.hashed:
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    system = f"{platform.system()}-{platform.machine()}".lower()
    return f"ssm-gates-{system}-py{sys.version_info[0]}.{sys.version_info[1]}-{digest.hexdigest()[:20]}"


def prepare(cfg: Config, log: GateLog, installer: str | None = None) -> ProjectEnv:
    """Reuse the cached environment when it is intact, else build it; prune the others."""
    reqs = find_requirements(cfg)
    key = cache_key(reqs)
    uv = tools.uv() if installer in (None, "uv") else None
    if installer == "uv" and not uv:
        raise EnvError("uv is not installed.")
    envs = cfg.cache_directory / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    env = ProjectEnv(envs / key, key, "uv" if uv else "pip", reused=False)
    with _locked(envs / f"{key}.lock"):
        found = _reusable(env, log)
        if isinstance(found, ProjectEnv):
            log.note(f"Reusing the cached environment {env.path} (key {key}).")
            env = found
        else:
            problem = found
            log.note(f"Building the project environment with {env.installer}: {problem}.")
            shutil.rmtree(env.path, ignore_errors=True)
            _build(env, reqs, cfg, log, uv)
    _prune(envs, keep=key)
    return env


@contextmanager
def _locked(path: Path, wait: bool = True) -> Iterator[bool]:
    with open(path, "a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True


def _marker(env: ProjectEnv) -> dict:
    return json.loads((env.path / MARKER).read_text(encoding="utf-8"))


def _reusable(env: ProjectEnv, log: GateLog) -> ProjectEnv | str:
    """The cached environment when it is intact, else why it cannot be reused."""
    if not env.path.exists():
        return "no cached environment for this key"
    try:
        marker = _marker(env)
        site = env.site_packages
    except (OSError, ValueError, StopIteration):
        return "the cached environment is incomplete"
    if marker.get("key") != env.key:
        return "the cached environment belongs to another key"
    if _distributions(site) != marker.get("distributions"):
        return "the cached environment's packages changed"
    missing = _missing_files(site)
    if missing:
        return f"the cached environment lost files (e.g. {missing})"
    if not env.python.exists():  # also a link to a Python that is gone (another runner image)
        return "the cached environment has no Python"
    if log.run([str(env.python), "-c", "import sys"], cwd=env.path).returncode != 0:
        return "the cached environment's Python does not start"
    return ProjectEnv(env.path, env.key, marker["installer"], reused=True)


def _distributions(site: Path) -> list[str]:
    return sorted(p.name for p in site.glob("*.dist-info"))


def _missing_files(site: Path) -> str:
    """The first file that an installed package recorded and that is gone, or ''."""
    for record in site.glob("*.dist-info/RECORD"):
        for line in record.read_text(encoding="utf-8", errors="replace").splitlines():
            name = line.rsplit(",", 2)[0]
            if name and not (site / name).exists():
                return name
    return ""


def _build(env: ProjectEnv, reqs: Requirements, cfg: Config, log: GateLog, uv: str | None) -> None:
    cwd = cfg.working_directory
    variables = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    wanted = [arg for name in reqs.files for arg in ("-r", name)]
    wanted += ["-e", reqs.project] if reqs.project else []
    wanted += list(RUNNERS)
    if uv:
        variables.setdefault("UV_CACHE_DIR", str(cfg.cache_directory / "uv"))
        variables.update(UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1")
        steps = [[uv, "venv", "--quiet", "--python", sys.executable, str(env.path)],
                 [uv, "pip", "install", "--python", str(env.python), *wanted]]
    else:
        variables.setdefault("PIP_CACHE_DIR", str(cfg.cache_directory / "pip"))
        variables.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
        steps = [[sys.executable, "-m", "venv", str(env.path)],
                 [str(env.python), "-m", "pip", "install", "--progress-bar", "off", "--no-compile", *wanted]]
    for argv in steps:
        done = log.run(argv, cwd=cwd, env=variables)
        if done.returncode != 0:
            shutil.rmtree(env.path, ignore_errors=True)
            output = (done.stderr.strip() or done.stdout.strip())
            conflict = any(word in output for word in CONFLICT_WORDS)
            raise EnvError(f"{env.installer} could not install the requirements:\n{_tail(output)}", conflict)
    marker = {"key": env.key, "installer": env.installer, "distributions": _distributions(env.site_packages)}
    (env.path / MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _prune(envs: Path, keep: str) -> None:
    """Drop environments of older keys, so a persisted cache does not grow (skip any in use)."""
    for path in envs.iterdir():
        if path.is_dir() and path.name != keep:
            with _locked(envs / f"{path.name}.lock", wait=False) as mine:
                if mine:
                    shutil.rmtree(path, ignore_errors=True)
                    (envs / f"{path.name}.lock").unlink(missing_ok=True)
