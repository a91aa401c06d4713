"""A release's own venv, filled from the artifact's wheelhouse with no package index.

Each release gets its own venv, ``<release>/.venv`` (``<app_dir>/.venv`` through the
link, where the docs say it is), rather than one venv shared by all releases:

- it is made and filled BEFORE the app stops, beside the running app's venv: an install
  never changes the packages under a running app, and a failed one changes nothing;
- a rollback switches back to a venv that is still installed: no reinstall, no index;
- a killed install leaves a release that is not ready; the next deploy makes a new one.

The cost is the disk of one venv per kept release and a venv creation per deploy.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Dict, List, Optional

from ssm_action.agent.errors import StepError
from ssm_action.agent.files import StateDir
from ssm_action.agent.host import Platform
from ssm_action.agent.layout import Layout
from ssm_action.agent.output import tail
from ssm_action.contract.artifact import WHEELHOUSE
from ssm_action.agent.shell import Shell
from ssm_action.agent.venv import INSTALL_TIMEOUT, Environment
from ssm_action.contract.params import AgentParams

PLATFORM_TAGS = {"linux": ("manylinux", "musllinux", "linux"), "windows": ("win",)}  # prefixes


def wheels_in(release: str) -> List[str]:
    try:
        return sorted(n for n in os.listdir(os.path.join(release, WHEELHOUSE)) if n.endswith(
            ".whl"))
    except FileNotFoundError:
        return []


def check_built_for(manifest: Dict[str, Any], plat_name: str, python_version: str) -> None:
    """The wheelhouse was built for this server's platform and Python (major.minor)."""
    wheelhouse = manifest.get("wheelhouse") or {}
    built = str(wheelhouse.get("python_version") or "")
    running = ".".join(python_version.split(".")[:2])
    if built and built != running:
        raise StepError("the wheelhouse was built for Python %s but this server's venv runs %s: "
                        "set the server's Python version for the wheelhouse to %s; nothing "
                        "was changed" % (built, running, running))
    platform = str(wheelhouse.get("platform") or "")
    if platform and not platform.startswith(PLATFORM_TAGS[plat_name]):
        raise StepError("the wheelhouse was built for %s, not for this %s server: build it for "
                        "this platform; nothing was changed" % (platform, plat_name))


def install_argv(uv: Optional[str], venv_python: str, requirements: str,
                 wheelhouse: Optional[str]) -> List[str]:
    offline = ["--no-index", "--find-links", wheelhouse] if wheelhouse else []
    if uv:
        return [uv, "pip", "install", "--python", venv_python] + offline + ["-r", requirements]
    return [venv_python, "-m", "pip", "install", "--disable-pip-version-check",
            "--no-input"] + offline + ["-r", requirements]


def install(shell: Shell, plat: Platform, release: str, params: AgentParams,
            manifest: Dict[str, Any]) -> str:
    """Create the release's venv and install its requirements (offline with a wheelhouse)."""
    where = Layout.of(replace(params, app_dir=release))
    inside = os.path.normcase(os.path.normpath(release)) + os.sep
    if not os.path.normcase(where.venv).startswith(inside):
        raise StepError("venv_dir must be inside app_dir to deploy an artifact (each release "
                        "has its own venv): use a relative venv_dir")
    env = Environment(shell, plat, StateDir(release), where, params)
    uv = env.installer()
    made = env.ensure_venv(uv)
    wheels = wheels_in(release)
    if wheels:
        check_built_for(manifest, plat.name, env.python_version)
    name = params.requirements_file
    if not os.path.isfile(where.requirements):
        return "%s; no %s" % (made, name)
    wheelhouse = os.path.join(release, WHEELHOUSE) if wheels else None
    argv = install_argv(uv, plat.venv_python(where.venv), where.requirements, wheelhouse)
    ran = shell.run(argv, cwd=release, timeout=INSTALL_TIMEOUT)
    if ran.code:
        shell.rep.say_tail(ran.out + "\n" + ran.err, 8)
        last = (tail(ran.err, 1) or tail(ran.out, 1) or ["no message"])[0]
        if wheelhouse:
            raise StepError("installing %s from the artifact's wheelhouse failed (exit %d): %s; "
                            "the wheelhouse lacks a wheel this server needs; the app was not "
                            "stopped" % (name, ran.code, last))
        raise StepError("installing %s failed (exit %d): %s; the artifact has no wheelhouse, so "
                        "this server needs a package index: make one reachable or deploy with a "
                        "wheelhouse; the app was not stopped" % (name, ran.code, last))
    how = "from %d wheel(s), no index" % len(wheels) if wheels else "from the package index"
    return "%s; %s install -r %s %s" % (made, "uv pip" if uv else "pip", name, how)
