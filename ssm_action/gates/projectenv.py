"""The project's own virtual environment: built with uv (venv + pip without it) from the
action's Python or python-version's, cached under cache-directory and keyed by the
requirements and that Python.

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
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ssm_action.config import GatesConfig as Config  # the gates see only their section
from ssm_action.gates import causes, declared, interpreter, isolation, tools
from ssm_action.gates.process import GateLog

LAYOUT = "2"  # bump when the layout or the way environments are built changes
MARKER = "ssm-action-env.json"
RUNNERS = ("pytest", "pytest-cov")  # the tests gate runs them inside the project
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
    args: tuple[str, ...]  # the installer's arguments, e.g. -r requirements.txt -e .[test]
    pins: tuple[str, ...]  # name==version constraints from the project's lock file
    reasons: tuple[str, ...]  # what is installed and why
    hashed: tuple[tuple[str, bytes], ...]  # (name, content) of everything that decides the install


@dataclass(frozen=True)
class ProjectEnv:
    path: Path
    key: str
    installer: str  # uv or pip
    reused: bool
    keep: tuple[str, ...] = ()  # variables the tested code may see although they look secret
    reasons: tuple[str, ...] = ()

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        return next((self.path / "lib").glob("python*/site-packages"))

    def variables(self) -> dict[str, str]:
        """The environment, without secrets, as a shell with this environment activated
        would have it. Bytecode is written as modules are imported (not all at install),
        so warm runs find it cached."""
        drop = ("PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH")
        env = {k: v for k, v in isolation.without_secrets(self.keep).items() if k not in drop}
        env["VIRTUAL_ENV"] = str(self.path)
        env["PATH"] = f"{self.path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env


def keep_names(cfg: Config) -> tuple[str, ...]:
    """Variables the tested code is given even when they look secret: required-env and pass-env."""
    return tuple(dict.fromkeys((*cfg.required_env, *cfg.pass_env)))


def find_requirements(cfg: Config) -> Requirements:
    root = cfg.working_directory
    try:
        found = declared.plan(root, cfg.requirements_file, cfg.install, cfg.test_command)
        hashed = declared.deciding_files(root, found)
    except (declared.DeclarationError, OSError, ValueError) as exc:
        raise EnvError(str(exc)) from None
    return Requirements(tuple(found.args), tuple(found.pins), tuple(found.reasons), tuple(hashed))


def cache_key(reqs: Requirements, python: interpreter.Interpreter | None = None) -> str:
    """Changes with the requirements or the Python (the action's by default), and with nothing else."""
    python = python or interpreter.current()
    digest = hashlib.sha256()
    digest.update(json.dumps((LAYOUT, python.implementation, python.version, python.base, *RUNNERS)).encode())
    for name, content in reqs.hashed:
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    system = f"{platform.system()}-{platform.machine()}".lower()
    return f"ssm-gates-{system}-py{python.minor}-{digest.hexdigest()[:20]}"


def prepare(cfg: Config, log: GateLog, installer: str | None = None) -> ProjectEnv:
    """Reuse the cached environment when it is intact, else build it; prune the others."""
    reqs = find_requirements(cfg)
    uv = tools.uv() if installer in (None, "uv") else None
    if installer == "uv" and not uv:
        raise EnvError("uv is not installed.")
    envs = cfg.cache_directory / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    ignore_all(cfg.cache_directory)
    python = interpreter.choose(cfg.python_version, uv, log, cfg.cache_directory)
    if isinstance(python, str):
        raise EnvError(python)
    key = cache_key(reqs, python)
    env = ProjectEnv(envs / key, key, "uv" if uv else "pip", False, keep_names(cfg), reqs.reasons)
    with _locked(envs / f"{key}.lock"):
        found = _reusable(env, log)
        if isinstance(found, ProjectEnv):
            log.note(f"Reusing the cached environment {env.path} (key {key}).")
            env = found
        else:
            problem = found
            log.note(f"Building the project environment with {env.installer} and Python {python.minor} "
                     f"({python.path}): {problem}.")
            shutil.rmtree(env.path, ignore_errors=True)
            _build(env, reqs, cfg, log, uv, python)
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
    return ProjectEnv(env.path, env.key, marker["installer"], True, env.keep, env.reasons)


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


def _build(env: ProjectEnv, reqs: Requirements, cfg: Config, log: GateLog, uv: str | None,
           python: interpreter.Interpreter) -> None:
    cwd = cfg.working_directory
    variables = {k: v for k, v in isolation.without_secrets(env.keep).items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    wanted = [*reqs.args, *RUNNERS]
    if reqs.pins:  # beside the environment: the build starts from an empty folder
        pins = env.path.with_name(f"{env.key}.pins.txt")
        pins.write_text("\n".join(reqs.pins) + "\n", encoding="utf-8")
        wanted += ["-c", str(pins)]
    if uv:
        variables.setdefault("UV_CACHE_DIR", str(cfg.cache_directory / "uv"))
        variables.update(UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1")
        steps = [[uv, "venv", "--quiet", "--python", python.path, str(env.path)],
                 [uv, "pip", "install", "--python", str(env.python), *wanted]]
    else:
        variables.setdefault("PIP_CACHE_DIR", str(cfg.cache_directory / "pip"))
        variables.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
        steps = [[python.path, "-m", "venv", str(env.path)],
                 [str(env.python), "-m", "pip", "install", "--progress-bar", "off", "--no-compile", *wanted]]
    log.note("Installing: " + "; ".join(reqs.reasons or ("only pytest and pytest-cov",)))
    hidden = ", ".join(isolation.removed(env.keep)) or "nothing"
    log.note(f"Left out of the environment of the build and of the tested code: {hidden}")
    for argv in steps:
        done = log.run(argv, cwd=cwd, env=variables)
        if done.returncode != 0:
            shutil.rmtree(env.path, ignore_errors=True)
            output = f"{done.stderr}\n{done.stdout}".strip()
            conflict = any(word in output for word in CONFLICT_WORDS)
            cause = causes.install_cause(output)
            refused = "" if cfg.python_version else interpreter.requires_python_note(cwd)
            raise EnvError(f"{env.installer} could not install the project's requirements: {cause}\n"
                           f"{refused or causes.INSTALL_HINT}\n{_tail(output)}", conflict)
    marker = {"key": env.key, "installer": env.installer, "distributions": _distributions(env.site_packages)}
    (env.path / MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")


def ignore_all(folder: Path) -> None:
    """A .gitignore of '*': the folder never shows in git status or gets committed by later steps."""
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.is_file():
        ignore.write_text("*\n", encoding="utf-8")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _prune(envs: Path, keep: str) -> None:
    """Drop environments of older keys, and their lock and pins files, so a persisted cache
    does not grow (skip any in use)."""
    for path in envs.iterdir():
        key = path.name.removesuffix(".lock").removesuffix(".pins.txt")
        if key == keep or (path.is_file() and (envs / key).is_dir()):
            continue  # the current one; or a file of an environment pruned with it below
        with _locked(envs / f"{key}.lock", wait=False) as mine:
            if mine:
                shutil.rmtree(envs / key, ignore_errors=True)
                (envs / f"{key}.pins.txt").unlink(missing_ok=True)
                (envs / f"{key}.lock").unlink(missing_ok=True)
