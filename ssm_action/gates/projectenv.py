"""The project's own virtual environment: built with uv (venv + pip without it) from the
action's Python or python-version's, cached under cache-directory and keyed by the
requirements and that Python.

Layout of the cache (persist the whole folder with actions/cache). The folders the project's
code writes in belong to the user it runs as (sandbox.py); the action's own files sit apart,
where that user cannot put a link for the action to follow:
  envs/<key>/                  the virtual environment              (the project's user)
  uv/, pip/, python/           the installers' caches, uv's Pythons  (the project's user)
  state/<key>.json             written last: what was installed      (the action's)
  state/<key>.lock             held while an environment is checked or built
  state/<key>.pins.txt         the lock file's pins, as constraints
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ssm_action.config import GatesConfig as Config  # the gates see only their section
from ssm_action.gates import causes, declared, interpreter, isolation, missing, sandbox, tools
from ssm_action.gates.process import GateLog

LAYOUT = "3"  # bump when the layout or the way environments are built changes
USER_FOLDERS = ("envs", "uv", "pip", "python")  # where the project's user writes
RUNNERS = ("pytest", "pytest-cov")  # the tests gate runs them inside the project
# Releases of the runners that need more than their metadata declares, so that no resolver can
# tell when they do not suit the project's pins: skipped when the action chooses the version.
# pytest-cov 6.2.0 needs pluggy >= 1.2 (new-style hook wrappers); 6.2.1 declares it.
UNDECLARED_NEEDS = {"pytest-cov": "!=6.2.0"}
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
    # Installed first and on their own (pip checks every hash once one requirement has hashes):
    hashed_args: tuple[str, ...] = ()  # e.g. -r requirements.txt, a file with --hash options
    hashed_lines: tuple[str, ...] = ()  # requirement lines with --hash options (Pipfile.lock)


@dataclass(frozen=True)
class ProjectEnv:
    path: Path
    key: str
    installer: str  # uv or pip
    reused: bool
    keep: tuple[str, ...] = ()  # variables the tested code may see although they look secret
    reasons: tuple[str, ...] = ()
    declared: missing.Declared = ()  # what the project's files declare, whatever the install input

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        return next((self.path / "lib").glob("python*/site-packages"))

    @property
    def marker(self) -> Path:
        return self.path.parent.parent / "state" / f"{self.key}.json"

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
    return Requirements(tuple(found.args), tuple(found.pins), tuple(found.reasons), tuple(hashed),
                        tuple(found.hashed_args), tuple(found.hashed_lines))


def cache_key(reqs: Requirements, python: interpreter.Interpreter | None = None) -> str:
    """Changes with the requirements or the Python (the action's by default), and with nothing else."""
    python = python or interpreter.current()
    digest = hashlib.sha256()
    digest.update(json.dumps((LAYOUT, python.implementation, python.version, python.base, *RUNNERS,
                              UNDECLARED_NEEDS)).encode())
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
    envs, state = cfg.cache_directory / "envs", cfg.cache_directory / "state"
    envs.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    ignore_all(cfg.cache_directory)
    python = interpreter.choose(*_python_wanted(cfg), uv=uv, log=log, cache=cfg.cache_directory)
    if isinstance(python, str):
        raise EnvError(python)
    key = cache_key(reqs, python)
    env = ProjectEnv(envs / key, key, "uv" if uv else "pip", False, keep_names(cfg), reqs.reasons,
                     _declared_names(cfg))
    with _locked(state / f"{key}.lock"):
        found = _reusable(env, log)
        if isinstance(found, ProjectEnv):
            log.note(f"Reusing the cached environment {env.path} (key {key}).")
            env = found
        else:
            problem = found
            log.note(f"Building the project environment with {env.installer} and Python {python.minor} "
                     f"({python.path}): {problem}.")
            shutil.rmtree(env.path, ignore_errors=True)
            env.marker.unlink(missing_ok=True)
            _build(env, reqs, cfg, log, uv, python)
    _prune(cfg.cache_directory, keep=key)
    return env


def hand_over(cache: Path, box: sandbox.Sandbox | None) -> None:
    """The cache's folders for the project's code to the user it runs as; the action's files in
    folders of the action's own (a link left there by an earlier run is removed, not followed)."""
    if box is None:
        return
    for folder in (cache, cache / "state"):
        if folder.is_symlink():
            folder.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        os.lchown(folder, os.geteuid(), os.getegid())
        os.chmod(folder, 0o755)  # nosec B103 # a folder: its user may read, not write, the action's files
        for entry in folder.iterdir():
            if entry.is_symlink():
                entry.unlink()
    for name in USER_FOLDERS:
        box.give(cache / name)


def _declared_names(cfg: Config) -> missing.Declared:
    try:
        return missing.declared_names(cfg.working_directory, cfg.requirements_file)
    except (declared.DeclarationError, OSError, ValueError):
        return ()  # the install input's environment is checked by pip check alone


def _python_wanted(cfg: Config) -> tuple[str, str]:
    """python-version, else the X.Y the project names exactly (and where). A range of the project's
    that excludes the action's Python stops here, as the project's own installer would."""
    if cfg.python_version:
        return cfg.python_version, ""
    wanted, source = interpreter.declared(cfg.working_directory)
    refused = "" if wanted else interpreter.requires_python_note(cfg.working_directory)
    if refused:
        raise EnvError(refused)
    return wanted, source


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
    return json.loads(env.marker.read_text(encoding="utf-8"))


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
    missing = _missing_files(site, log)
    if missing:
        return f"the cached environment lost files (e.g. {missing})"
    if not env.python.exists():  # also a link to a Python that is gone (another runner image)
        return "the cached environment has no Python"
    if log.run([str(env.python), "-c", "import sys"], cwd=env.path).returncode != 0:
        return "the cached environment's Python does not start"
    return ProjectEnv(env.path, env.key, marker["installer"], True, env.keep, env.reasons, env.declared)


def _distributions(site: Path) -> list[str]:
    return sorted(p.name for p in site.glob("*.dist-info"))


def _missing_files(site: Path, log: GateLog) -> str:
    """The first file that an installed package recorded and that is gone, or ''
    (a RECORD the project's user did not write counts as missing)."""
    for record in site.glob("*.dist-info/RECORD"):
        try:
            text = log.read_report(record)
        except OSError:
            return str(record.relative_to(site))
        for line in text.splitlines():
            name = line.rsplit(",", 2)[0]
            if name and not (site / name).exists():
                return name
    return ""


def _build(env: ProjectEnv, reqs: Requirements, cfg: Config, log: GateLog, uv: str | None,
           python: interpreter.Interpreter) -> None:
    cwd = cfg.working_directory
    variables = {k: v for k, v in isolation.without_secrets(env.keep).items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    wanted = [*reqs.args, *runners(reqs)]
    if reqs.pins:  # beside the environment: the build starts from an empty folder
        wanted += ["-c", str(_beside(env, "pins", reqs.pins))]
    hashed = list(reqs.hashed_args)
    if reqs.hashed_lines:
        hashed += ["-r", str(_beside(env, "hashed", reqs.hashed_lines))]
    if uv:
        variables.setdefault("UV_CACHE_DIR", str(cfg.cache_directory / "uv"))
        variables.update(UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1")
        create = [uv, "venv", "--quiet", "--python", python.path, str(env.path)]
        install = [uv, "pip", "install", "--python", str(env.python)]
    else:
        variables.setdefault("PIP_CACHE_DIR", str(cfg.cache_directory / "pip"))
        variables.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
        create = [python.path, "-m", "venv", str(env.path)]
        install = [str(env.python), "-m", "pip", "install", "--progress-bar", "off", "--no-compile"]
    steps = [create, *([[*install, *hashed]] if hashed else []), [*install, *wanted]]
    log.note("Installing: " + "; ".join(reqs.reasons or ("only pytest and pytest-cov",)))
    hidden = ", ".join(isolation.removed(env.keep)) or "nothing"
    log.note(f"Left out of the environment of the build and of the tested code: {hidden}")
    for argv in steps:
        done = log.run(argv, cwd=cwd, env=variables)
        if done.returncode != 0:
            shutil.rmtree(env.path, ignore_errors=True)
            output = f"{done.stderr}\n{done.stdout}".strip()
            conflict = any(word in output for word in CONFLICT_WORDS)
            cause = _hash_mismatch(output) or causes.install_cause(output)
            refused = "" if cfg.python_version else interpreter.requires_python_note(cwd)
            raise EnvError(f"{env.installer} could not install the project's requirements: {cause}\n"
                           f"{refused or causes.INSTALL_HINT}\n{_tail(output)}", conflict and not refused)
    marker = {"key": env.key, "installer": env.installer, "distributions": _distributions(env.site_packages)}
    env.marker.write_text(json.dumps(marker, indent=1), encoding="utf-8")


def runners(reqs: Requirements) -> list[str]:
    """The runners, resolved with the project's pins. A runner that the project's files name
    (anywhere: a requirement, a lock, an extra) keeps the version the project's resolution
    chooses; the others skip the releases that need more than they declare."""
    said = b"\n".join(content for _, content in reqs.hashed)
    return [runner if _names(said, runner) else runner + UNDECLARED_NEEDS.get(runner, "") for runner in RUNNERS]


def _names(text: bytes, name: str) -> bool:
    spelled = rb"[-_.]".join(re.escape(part.encode()) for part in name.split("-"))
    return re.search(rb"(?<![\w.-])" + spelled + rb"(?![\w-])", text, re.IGNORECASE) is not None


def _hash_mismatch(output: str) -> str:
    """pip's hash failure names the packages on the lines after its headline: say them first."""
    if "DO NOT MATCH THE HASHES" not in output:
        return ""
    named = re.findall(r"^\s+(\S+==\S+) from ", output, re.MULTILINE)
    return (f"the download of {', '.join(named) or 'a package'} does not match the hashes that the project's lock "
            f"or requirement file pins (a changed release, or a tampered download): update the hashes")


def _beside(env: ProjectEnv, kind: str, lines: tuple[str, ...]) -> Path:
    """A requirements file in the action's state folder (the build starts from an empty folder)."""
    path = env.marker.with_name(f"{env.key}.{kind}.txt")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ignore_all(folder: Path) -> None:
    """A .gitignore of '*': the folder never shows in git status or gets committed by later steps."""
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.is_file():
        ignore.write_text("*\n", encoding="utf-8")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _prune(cache: Path, keep: str) -> None:
    """Drop environments of older keys, and their files, so a persisted cache does not grow
    (skip any in use)."""
    envs, state = cache / "envs", cache / "state"
    suffixes = (".json", ".pins.txt", ".hashed.txt", ".lock")
    keys = {path.name for path in envs.iterdir()}
    keys |= {path.name.removesuffix(s) for path in state.iterdir() for s in suffixes if path.name.endswith(s)}
    for key in keys - {keep}:
        with _locked(state / f"{key}.lock", wait=False) as mine:
            if mine:
                shutil.rmtree(envs / key, ignore_errors=True)  # rmtree follows no link
                for suffix in suffixes:
                    (state / f"{key}{suffix}").unlink(missing_ok=True)
