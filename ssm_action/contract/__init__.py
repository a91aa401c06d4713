"""The contract between the action and the deploy agent, imported by both sides.

Stdlib only, Python 3.8+: it is shipped inside the agent's zipapp. ``params`` holds the
agent's parameters (one frozen dataclass, each field knowing its input, kind, default
and secrecy); ``checks`` the checks on them (run by the action at config time and by the
agent on the server) and ``parse_params``; ``secret_refs`` the app secret references;
``result`` the result line, the exit codes and the parsed result; ``artifact`` the
artifact's format (packed by the runner, unpacked by the agent); ``settings`` the server's AWS
endpoint and region variables; ``secret_lines`` the ``app-secrets`` input's lines and ``action`` the
Action enum with its wording (the action's only).

The agent imports the modules themselves: its zipapp carries this file as an empty stub
(payload.py), and only the modules the agent imports.
"""

from ssm_action.contract.action import Action
from ssm_action.contract.checks import GIT_PROTOCOLS, PLATFORMS, parse_params, path_module, status_ok
from ssm_action.contract.params import BY_NAME, PARAMS, AgentParams, Param, ParamProblem
from ssm_action.contract.result import RESULT_PREFIX, AgentResult, ExitCode, result_line
from ssm_action.contract.secret_lines import LineError, parse_secret_lines
from ssm_action.contract.secret_refs import REFERENCE_FORMS, SecretRef, parse_secret_ref, ref_texts

# What callers import from ssm_action.contract (an explicit export, as mypy --strict wants it)
__all__ = ["GIT_PROTOCOLS", "PLATFORMS", "path_module", "status_ok", "BY_NAME", "PARAMS", "Action", "AgentParams",
           "Param", "ParamProblem", "parse_params", "RESULT_PREFIX", "AgentResult", "ExitCode", "result_line",
           "REFERENCE_FORMS", "LineError", "SecretRef", "parse_secret_lines", "parse_secret_ref", "ref_texts"]
