"""The agent's parameters as one frozen dataclass: each field knows its input, kind, default and whether
it is secret; ``parse_params`` turns the JSON object into ``AgentParams`` or the problems found.

The runner builds the parameters from the inputs and sends their JSON (``to_json``); the agent parses
that once. A problem names its parameter and the input it comes from (None: it comes from the run, e.g.
the commit), so the action reports it on that input.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from ssm_action.contract.secret_refs import SecretRef, ref_texts


class Param(NamedTuple):
    name: str
    kind: str  # str, number (int or float), int, bool, dict, list
    default: Any = None  # None: required
    secret: bool = False  # values never printed, logged or stored
    input: Optional[str] = None  # the action's input it comes from; None: from the run

    @property
    def required(self) -> bool:
        return self.default is None


class ParamProblem(NamedTuple):
    """One refused parameter: its name, the input it comes from (None: none), and why."""

    param: str
    input: Optional[str]
    message: str


def _param(kind: str, default: Any = None, input: Optional[str] = None, secret: bool = False) -> Any:
    """A field with its spec as metadata (a secret one left out of repr); a list or dict default is copied
    for each object."""
    meta = {"spec": (kind, default, secret, input)}
    if default is None:
        return field(metadata=meta)
    if isinstance(default, (list, dict)):
        return field(default_factory=type(default), metadata=meta)
    return field(default=default, repr=not secret, metadata=meta)


@dataclass(frozen=True)
class AgentParams:
    """What one run of the agent does (valid by the contract when made by ``parse_params``).

    Each field: its type, then its kind, default (none: required), input and secrecy; what it means is in
    its comment (comments are not shipped inline, where the command's size counts).
    """

    deploy_id: str = _param("str")  # unique id of this deploy (letters, digits, . _ -)
    app_dir: str = _param("str", input="app-directory")  # the app's git clone on the server (absolute)
    sha: str = _param("str")  # the exact 40-hex commit to deploy
    platform: str = _param("str", input="platform")  # windows or linux: must match the server
    git_remote: str = _param("str", "", "git-remote")  # where to fetch from; empty: the clone's origin
    branch: str = _param("str", "")  # branch to check the commit out as
    venv_dir: str = _param("str", "", "venv-directory")  # the app's venv, relative to app_dir or absolute
    requirements_file: str = _param("str", "requirements.txt", "requirements-file")  # relative to app_dir
    entry: str = _param("str", "app.py", "app-entry")  # the app's entry script, relative to app_dir
    python: str = _param("str", "")  # interpreter for the venv; empty: the agent's own
    health_url: str = _param("str", "", "health-check-url")  # http(s) URL that must answer 2xx
    health_timeout: float = _param("number", 60, "health-check-timeout")  # seconds the health check may take
    backup_dir: str = _param("str", "", "backup-directory")  # absolute; empty: <app_dir>-backups
    backup_retention: int = _param("int", 5, "backup-retention")  # backups kept
    rollback_on_failure: bool = _param("bool", True, "rollback-on-failure")  # put the previous version back
    installer: str = _param("str", "auto", "server-installer")  # auto, pip or uv
    hooks_dir: str = _param("str", "deploy/hooks", "hooks-directory")  # relative to app_dir
    stop_timeout: float = _param("number", 15, "stop-timeout")  # seconds for a graceful stop before a forced one
    start_grace: float = _param("number", 2, "start-grace")  # seconds the new process must stay up
    # -- the app: its command, configuration, secrets (references only) and host
    app_command: List[str] = _param("list", [], "app-command")  # the start command's words; empty: [python, entry]
    app_env: Dict[str, str] = _param("dict", {}, "app-env")  # plain environment variables for the app (not secret)
    # variable -> secret REFERENCE, resolved on the server
    app_secrets: Dict[str, SecretRef] = _param("dict", {}, "app-secrets")
    app_host: str = _param("str", "process", "app-host")  # process, service (systemd / Windows service) or task
    app_user: str = _param("str", "", "app-user")  # the service's account; empty: root / SYSTEM
    health_status: str = _param("str", "2xx", "health-check-status")  # accepted codes: 200,204 or 2xx or 200-399
    health_contains: str = _param("str", "", "health-check-contains")  # text the health answer's body must hold
    action: str = _param("str", "deploy", "mode")  # deploy; status (read-only report); rollback (last good)
    # -- artifact delivery: the release comes from a zip the runner packed, not from git
    source: str = _param("str", "git", "source")  # git (fetch the commit) or artifact (download the packed commit)
    # the artifact: a presigned URL (a credential), file:// URL or path
    artifact_url: str = _param("str", "", "source", secret=True)
    artifact_sha256: str = _param("str", "", "source")  # the artifact's sha256 (hex), checked before any change
    artifact_size: int = _param("int", 0, "source")  # the artifact's size in bytes (no more is downloaded)

    def to_json(self) -> Dict[str, Any]:
        """The JSON object sent to the agent (secret references as written, never their values)."""
        value = {spec.name: getattr(self, spec.name) for spec in PARAMS}
        value.update(app_command=list(self.app_command), app_env=dict(self.app_env),
                     app_secrets=ref_texts(self.app_secrets))
        return value

    def secret_values(self) -> List[str]:
        """Every value of a secret parameter (to redact from anything shown)."""
        found = [getattr(self, spec.name) for spec in PARAMS if spec.secret and spec.kind == "str"]
        return [value for value in found if value]


PARAMS: Tuple[Param, ...] = tuple(Param(f.name, *f.metadata["spec"]) for f in fields(AgentParams))
BY_NAME: Dict[str, Param] = {p.name: p for p in PARAMS}
KINDS = {"str": ((str,), "a string"), "number": ((int, float), "a number"),
         "int": ((int,), "an integer"), "bool": ((bool,), "true or false"),
         "dict": ((dict,), "an object"), "list": ((list,), "a list")}
