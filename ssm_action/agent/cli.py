"""The agent's command line: read and check the parameters, run the deploy, exit with its code.

    python agent.pyz --params-file PATH     # a JSON parameter object
    python agent.pyz --params-b64 B64       # the same JSON, UTF-8, base64
    python agent.pyz --launch SPEC          # a service's start command (launcher.py)
    python agent.pyz --service NAME SPEC    # a Windows service's binary (winservice_run.py)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import traceback
from typing import Any, List, Optional

from ssm_action.agent import status
from ssm_action.agent.deploy import Deploy
from ssm_action.agent.errors import ParamError
from ssm_action.agent.host import Platform
from ssm_action.agent.output import Redactor, Reporter, cap_error
from ssm_action.agent.venv import RUNNING_PYTHON
from ssm_action.contract.checks import PLATFORMS
from ssm_action.contract.checks import parse_params
from ssm_action.contract.params import AgentParams
from ssm_action.contract.result import AgentResult, ExitCode

USAGE = "usage: agent.pyz --params-file PATH | --params-b64 B64"


def local_platform() -> Platform:
    """This OS's processes, files and locks (chosen here, so the host interface imports no host)."""
    if os.name == "nt":
        from ssm_action.agent.windows import WindowsPlatform
        return WindowsPlatform()
    from ssm_action.agent.posix import PosixPlatform
    return PosixPlatform()


def validate(raw: Any, os_name: str) -> AgentParams:
    """The contract's checks, and one only the server can make: the platform is this OS."""
    params, problems = parse_params(raw)
    errors = [problem.message for problem in problems]
    platform = raw.get("platform") if isinstance(raw, dict) else None
    if platform in PLATFORMS and platform != os_name:
        errors.append("platform is %r but this server runs %s" % (platform, os_name))
    if errors or params is None:
        raise ParamError("; ".join(errors))
    return params


def load_params(argv: List[str], os_name: str) -> AgentParams:
    parser = argparse.ArgumentParser(prog="agent.pyz", description="Deploy one commit of an app.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--params-file", help="JSON parameter file")
    source.add_argument("--params-b64", help="base64 of the UTF-8 JSON parameters")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # bad arguments: still exit 4 with a result line
        if exc.code == 0:  # --help
            raise
        raise ParamError(USAGE)
    try:
        if args.params_file:
            with open(args.params_file, "rb") as handle:
                text = handle.read().decode("utf-8")
        else:
            text = base64.b64decode(args.params_b64, validate=True).decode("utf-8")
        raw = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ParamError("cannot read the parameters: %s" % exc)
    return validate(raw, os_name)


def main(argv: Optional[List[str]] = None) -> int:
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure:  # a Windows code page must not crash a deploy
        reconfigure(errors="backslashreplace")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--launch"]:
        from ssm_action.agent import launcher
        return launcher.main(argv[1:])
    if argv[:1] == ["--service"]:  # a Windows service's binary (winservice.py registers it)
        from ssm_action.agent import winservice_run
        return winservice_run.main(argv[1:])
    plat = local_platform()
    rep = Reporter(Redactor())
    try:
        params = load_params(argv, plat.name)
    except ParamError as exc:
        rep.say("invalid parameters: %s" % exc)
        rep.result(AgentResult("invalid", cap_error(str(exc)), python=RUNNING_PYTHON).to_dict())
        return ExitCode.BAD_PARAMS
    rep.redact = Redactor(params.secret_values())
    try:
        return run(params, plat, rep)
    finally:
        rep.close()


def run(params: AgentParams, plat: Platform, rep: Reporter) -> int:
    """The action the parameters name: status and a rollback's choice of version only read; then a deploy."""
    try:
        if params.action == "status":
            return status.status(params, plat, rep)
        if params.action == "rollback":
            put_back = status.rollback_params(params, plat, rep)
            if put_back is None:
                return ExitCode.FAILED
            params = put_back
    except Exception as exc:  # never end without a result line
        rep.log(traceback.format_exc())
        rep.result(AgentResult("failed", cap_error("agent error: %s: %s" % (type(exc).__name__, exc)),
                               action=params.action, python=RUNNING_PYTHON).to_dict())
        return ExitCode.FAILED
    deploy = Deploy(params, plat, rep)
    try:
        return deploy.run()
    except Exception as exc:  # never end without a result line
        rep.log(traceback.format_exc())
        return deploy.finish("failed", ExitCode.FAILED, "agent error: %s: %s" % (
            type(exc).__name__, exc))
