"""The app's start command, resolved in its venv (also how its processes are recognised: host.AppMatch).

``app_command`` takes three forms (checked by the contract): ``-m MODULE ...`` runs
the venv's python with the module; ``path/to/script.py ...`` runs a script of the
app folder; any other first word is a console script of the venv (``waitress-serve``:
``bin/`` on Linux, ``Scripts\\<name>.exe`` on Windows, started without a console
window by the Windows host's creation flags). An empty command is ``app_entry`` run
by the venv's python (``pythonw.exe`` on Windows), as before.
"""

from __future__ import annotations

import ntpath
import os
from typing import List, NamedTuple

from ssm_action.agent.errors import StepError
from ssm_action.agent.host import Platform
from ssm_action.agent.layout import Layout
from ssm_action.contract.params import AgentParams


class Command(NamedTuple):
    argv: List[str]  # what is started
    needs: str  # the file that must exist in the commit ("" for a module)


def console_script(plat: Platform, venv: str, name: str) -> str:
    if plat.name == "windows":
        return ntpath.join(venv, "Scripts", name if name.lower().endswith(".exe") else name + ".exe")
    return os.path.join(venv, "bin", name)


def resolve(plat: Platform, where: Layout, params: AgentParams) -> Command:
    words = list(params.app_command)
    python = plat.app_python(where.venv)
    if not words:
        return Command([python, where.entry], where.entry)
    first, rest = words[0], words[1:]
    if first == "-m":
        return Command([python] + words, "")
    if first.lower().endswith(".py"):
        script = os.path.join(where.app_dir, os.path.normpath(first))
        return Command([python, script] + rest, script)
    script = console_script(plat, where.venv, first)
    return Command([script] + rest, script)  # its python runs it as argv[1]


def check(command: Command, params: AgentParams, sha: str) -> None:
    """The file the command needs is there (after the requirements were installed)."""
    if command.needs and not os.path.isfile(command.needs):
        what = ("entry script %s is not in commit %s: fix the entry parameter" % (params.entry, sha[:12])
                if not params.app_command else
                "%s (from app_command) is not there after the install: add its package to the "
                "requirements, or fix app_command" % command.needs)
        raise StepError(what)
