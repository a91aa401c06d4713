"""The app's virtual environment and its requirements, installed with uv or pip.

The venv is created when missing or made by another Python. ``deps.json`` in
the state folder holds the hash of the requirements last fully installed, so a
rollback reinstalls only when the restored file differs and the venv still runs.

On Windows the running app holds its venv (``Scripts\\pythonw.exe`` cannot be
deleted): a venv that must be remade is remade after the stop step ("venv"),
never while the app runs. Its removal deletes ``pyvenv.cfg`` last, so a removal
that stops halfway leaves a venv the next deploy remakes, not a foreign folder.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Optional

from ssm_action.agent.errors import StepError
from ssm_action.agent.files import StateDir, file_hash
from ssm_action.agent.host import Platform
from ssm_action.agent.layout import DEPS, Layout
from ssm_action.agent.output import tail
from ssm_action.agent.shell import Shell
from ssm_action.contract.params import AgentParams

INSTALL_TIMEOUT = 1800
RUNNING_PYTHON = "%d.%d.%d" % sys.version_info[:3]


class Environment:
    def __init__(self, shell: Shell, plat: Platform, records: StateDir, where: Layout,
                 params: AgentParams) -> None:
        self.shell = shell
        self.plat = plat
        self.records = records
        self.where = where
        self.p = params
        self.python_version = RUNNING_PYTHON  # the venv's, once it is known
        self.deferred: Optional[str] = None  # requirements hash to install after the stop

    def installer(self) -> Optional[str]:
        """uv's path when uv installs, None for pip."""
        uv = shutil.which("uv") if self.p.installer in ("auto", "uv") else None
        if self.p.installer == "uv" and not uv:
            raise StepError("installer is uv but uv is not on PATH: install uv or use pip")
        return uv

    def deps(self, digest: Optional[str] = None, defer: bool = True) -> str:
        """The "deps" step: a venv made by the right Python, the requirements installed;
        on Windows a venv to remake while the app may run is left for ``rebuild``."""
        uv = self.installer()
        digest = file_hash(self.where.requirements) if digest is None else digest
        wanted, have = self.wanted_python(), self.venv_python_version()
        if defer and have and have != wanted and self.plat.holds_running_files:
            self.deferred = digest
            return "venv of python %s is remade for %s after the stop (the app holds it)" % (
                have, wanted)
        venv = self.ensure_venv(uv, wanted, have)
        return "%s; %s" % (venv, self.install_requirements(uv, digest))

    def rebuild(self) -> str:
        """The "venv" step, after the stop: the venv the deps step left for it."""
        digest, self.deferred = self.deferred, None
        return self.deps(digest, defer=False)

    def restore(self) -> str:
        """After a rollback: keep a venv that runs (the old app may still use it), reinstall
        only when the restored requirements differ; remake a venv that does not run."""
        digest = file_hash(self.where.requirements)
        self.deferred = None
        have = self.venv_python_version()
        if not have:
            return self.deps(digest)
        self.python_version = have
        if digest == self.records.read(DEPS).get("hash"):
            return "requirements unchanged"
        return "venv kept (python %s); %s" % (have, self.install_requirements(
            self.installer(), digest))

    def install_requirements(self, uv: Optional[str], digest: str) -> str:
        """Install the requirements file (if any), recording its hash once installed."""
        self.records.write(DEPS, {"hash": None})  # half-installed until it succeeds
        if digest:
            self.install(uv)
        self.records.write(DEPS, {"hash": digest})
        name = self.p.requirements_file
        return "%s install -r %s" % ("uv" if uv else "pip", name) if digest else "no " + name

    def python_of(self, python: str) -> Optional[str]:
        ran = self.shell.run(
            [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], timeout=60)
        return ran.out.strip() if ran.code == 0 else None

    def wanted_python(self) -> str:
        base = self.p.python or sys.executable
        wanted = self.python_of(base) if self.p.python else RUNNING_PYTHON
        if not wanted:
            raise StepError("python %r does not run: fix the python parameter" % base)
        return wanted

    def venv_python_version(self) -> Optional[str]:
        """The version of the venv's python, None when it is missing or does not run."""
        venv_python = self.plat.venv_python(self.where.venv)
        return self.python_of(venv_python) if os.path.isfile(venv_python) else None

    def ensure_venv(self, uv: Optional[str], wanted: Optional[str] = None,
                    have: Optional[str] = None) -> str:
        """Create the venv when missing, broken or made by another Python (``wanted``, the
        Python to make it with, and ``have``, the venv's, when already known)."""
        venv = self.where.venv
        base = self.p.python or sys.executable
        if wanted is None:
            wanted, have = self.wanted_python(), self.venv_python_version()
        if have == wanted:
            self.python_version = wanted
            return "venv ok"
        if os.path.isdir(venv):
            cfg = os.path.join(venv, "pyvenv.cfg")
            if os.listdir(venv) and not os.path.isfile(cfg):
                raise StepError("venv_dir %s is not a virtual environment: remove it or set "
                                "venv_dir" % venv)
            self.records.write(DEPS, {"hash": None})
            remove_venv(venv)  # broken, half-made or from another Python
        argv = [uv, "venv", "-q", "--python", base, venv] if uv else [base, "-m", "venv", venv]
        ran = self.shell.run(argv, timeout=INSTALL_TIMEOUT)
        if ran.code:
            raise StepError("creating the venv %s failed: %s" % (
                venv, " ".join(tail(ran.err or ran.out, 2))))
        self.python_version = wanted
        return "venv created (python %s)" % wanted

    def install(self, uv: Optional[str]) -> None:
        venv_python = self.plat.venv_python(self.where.venv)
        requirements = self.where.requirements
        if uv:
            argv = [uv, "pip", "install", "--python", venv_python, "--upgrade", "-r", requirements]
        else:
            argv = [venv_python, "-m", "pip", "install", "--disable-pip-version-check",
                    "--no-input", "--upgrade", "-r", requirements]
        run = self.shell.run
        ran = run(argv, cwd=self.where.app_dir, timeout=INSTALL_TIMEOUT)
        if not uv and ran.code and "No module named pip" in ran.err:  # a venv made by uv
            run([venv_python, "-m", "ensurepip", "--upgrade"], timeout=INSTALL_TIMEOUT)
            ran = run(argv, cwd=self.where.app_dir, timeout=INSTALL_TIMEOUT)
        if ran.code:
            lines = self.shell.rep.say_tail(ran.err + "\n" + ran.out, 8)
            raise StepError("installing %s failed (exit %d): %s; fix the requirements (full "
                            "output in the log file)" % (self.p.requirements_file, ran.code,
                                                         lines[-1] if lines else "no message"))


def remove_venv(venv: str) -> None:
    """Delete a venv, ``pyvenv.cfg`` last: a removal that fails halfway (a file held open)
    still leaves a folder the next deploy knows as a venv to remake."""
    cfg = os.path.join(venv, "pyvenv.cfg")
    for name in os.listdir(venv):
        path = os.path.join(venv, name)
        if path == cfg:
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    shutil.rmtree(venv)
