"""The app's virtual environment and its requirements, installed with uv or pip.

The venv is created when missing or made by another Python. ``deps.json`` in
the state folder holds the hash of the requirements last fully installed, so a
rollback reinstalls only when the restored file differs.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any, Dict, Optional

from ssm_action.agent.errors import StepError
from ssm_action.agent.files import StateDir, file_hash
from ssm_action.agent.host import Platform
from ssm_action.agent.layout import Layout
from ssm_action.agent.output import tail
from ssm_action.agent.shell import Shell

INSTALL_TIMEOUT = 1800
RUNNING_PYTHON = "%d.%d.%d" % sys.version_info[:3]
DEPS = "deps.json"


class Environment:
    def __init__(self, shell: Shell, plat: Platform, records: StateDir, where: Layout,
                 params: Dict[str, Any]) -> None:
        self.shell = shell
        self.plat = plat
        self.records = records
        self.where = where
        self.p = params
        self.python_version = RUNNING_PYTHON  # the venv's, once it is known

    def installer(self) -> Optional[str]:
        """uv's path when uv installs, None for pip."""
        uv = shutil.which("uv") if self.p["installer"] in ("auto", "uv") else None
        if self.p["installer"] == "uv" and not uv:
            raise StepError("installer is uv but uv is not on PATH: install uv or use pip")
        return uv

    def deps(self, digest: Optional[str] = None) -> str:
        """The "deps" step: a venv made by the right Python, the requirements installed."""
        uv = self.installer()
        venv = self.ensure_venv(uv)
        return "%s; %s" % (venv, self.install_requirements(
            uv, file_hash(self.where.requirements) if digest is None else digest))

    def restore(self) -> str:
        """After a rollback: reinstall only when the restored requirements differ."""
        digest = file_hash(self.where.requirements)
        if digest == self.records.read(DEPS).get("hash"):
            return "requirements unchanged"
        return self.deps(digest)

    def install_requirements(self, uv: Optional[str], digest: str) -> str:
        """Install the requirements file (if any), recording its hash once installed."""
        self.records.write(DEPS, {"hash": None})  # half-installed until it succeeds
        if digest:
            self.install(uv)
        self.records.write(DEPS, {"hash": digest})
        name = self.p["requirements_file"]
        return "%s install -r %s" % ("uv" if uv else "pip", name) if digest else "no " + name

    def python_of(self, python: str) -> Optional[str]:
        ran = self.shell.run(
            [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], timeout=60)
        return ran.out.strip() if ran.code == 0 else None

    def ensure_venv(self, uv: Optional[str]) -> str:
        """Create the venv when missing, broken or made by another Python."""
        venv = self.where.venv
        base = self.p["python"] or sys.executable
        wanted = self.python_of(base) if self.p["python"] else self.python_version
        if not wanted:
            raise StepError("python %r does not run: fix the python parameter" % base)
        venv_python = self.plat.venv_python(venv)
        if os.path.isfile(venv_python) and self.python_of(venv_python) == wanted:
            self.python_version = wanted
            return "venv ok"
        if os.path.isdir(venv):
            if os.listdir(venv) and not os.path.isfile(os.path.join(venv, "pyvenv.cfg")):
                raise StepError("venv_dir %s is not a virtual environment: remove it or set "
                                "venv_dir" % venv)
            shutil.rmtree(venv)  # broken, half-made or from another Python
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
                            "output in the log file)" % (self.p["requirements_file"], ran.code,
                                                         lines[-1] if lines else "no message"))
