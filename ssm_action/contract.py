"""The contract between the action and the deploy agent, imported by both sides.

Stdlib only, Python 3.8+: it is shipped inside the agent's zipapp. It holds the
agent's parameters (declared once: type, required, default, secret), the checks
on them (run by the action at config time and by the agent on the server), the
result line's prefix, the exit codes and the parsed result.
"""

from __future__ import annotations

import enum
import json
import ntpath
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

RESULT_PREFIX = "SSM_DEPLOY_RESULT "


def result_line(value: Dict[str, Any]) -> str:
    """The agent's last line: the prefix and compact JSON (SSM keeps little of stdout)."""
    return RESULT_PREFIX + json.dumps(value, separators=(",", ":"), sort_keys=True)


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # failed, previous version NOT restored (no rollback, or it failed)
    ROLLED_BACK = 2  # failed, previous version restored and healthy
    BUSY = 3  # another deploy holds the lock
    BAD_PARAMS = 4  # the parameter object is invalid


class Param(NamedTuple):
    name: str
    kind: str  # str, number (int or float), int, bool, dict
    default: Any = None  # None: required
    secret: bool = False  # values never printed, logged or stored
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is None


PARAMS: Tuple[Param, ...] = (
    Param("deploy_id", "str", doc="unique id of this deploy (letters, digits, . _ -)"),
    Param("app_dir", "str", doc="the app's git clone on the server (absolute)"),
    Param("git_remote", "str", "", doc="where to fetch from; empty: the clone's origin"),
    Param("branch", "str", "", doc="branch to check the commit out as"),
    Param("sha", "str", doc="the exact 40-hex commit to deploy"),
    Param("venv_dir", "str", "", doc="the app's venv, relative to app_dir or absolute"),
    Param("requirements_file", "str", "requirements.txt", doc="relative to app_dir"),
    Param("entry", "str", "app.py", doc="the app's entry script, relative to app_dir"),
    Param("python", "str", "", doc="interpreter for the venv; empty: the agent's own"),
    Param("health_url", "str", "", doc="http(s) URL that must answer 2xx"),
    Param("health_timeout", "number", 60, doc="seconds the health check may take"),
    Param("backup_dir", "str", "", doc="absolute; empty: <app_dir>-backups"),
    Param("backup_retention", "int", 5, doc="backups kept"),
    Param("rollback", "bool", True, doc="put the previous version back on failure"),
    Param("platform", "str", doc="windows or linux: must match the server"),
    Param("installer", "str", "auto", doc="auto, pip or uv"),
    Param("hooks_dir", "str", "deploy/hooks", doc="relative to app_dir"),
    Param("stop_timeout", "number", 15, doc="seconds for a graceful stop before a forced one"),
    Param("start_grace", "number", 2, doc="seconds the new process must stay up"),
    # -- the app: its command, configuration, secrets (references only) and host (issue 14)
    Param("app_command", "list", [], doc="the start command's words; empty: [python, entry]"),
    Param("app_env", "dict", {}, doc="plain environment variables for the app (not secret)"),
    Param("app_secrets", "dict", {}, doc="variable -> secret REFERENCE, resolved on the server"),
    Param("app_host", "str", "process", doc="process, service (systemd / Windows service) or task (Windows)"),
    Param("app_user", "str", "", doc="the service's account; empty: root / SYSTEM"),
    Param("health_status", "str", "2xx", doc="accepted codes: 200,204 or 2xx or 200-399"),
    Param("health_contains", "str", "", doc="text the health answer's body must hold"),
    Param("action", "str", "deploy", doc="deploy; status (read-only report); rollback (to the last good version)"),
) + (
    # -- artifact delivery (issue 15): the release comes from a zip the runner packed, not from git
    Param("source", "str", "git", doc="git (fetch the commit) or artifact (download the packed commit)"),
    Param("artifact_url", "str", "", secret=True, doc="the artifact: a presigned URL (a credential), "
          "file:// URL or path"),
    Param("artifact_sha256", "str", "", doc="the artifact's sha256 (hex), checked before anything changes"),
    Param("artifact_size", "int", 0, doc="the artifact's size in bytes (no more is downloaded)"),
)
BY_NAME: Dict[str, Param] = {p.name: p for p in PARAMS}
KINDS = {"str": ((str,), "a string"), "number": ((int, float), "a number"),
         "int": ((int,), "an integer"), "bool": ((bool,), "true or false"),
         "dict": ((dict,), "an object"), "list": ((list,), "a list")}
PLATFORMS = ("windows", "linux")
SOURCES = ("git", "artifact")
INSTALLERS = ("auto", "pip", "uv")
APP_HOSTS = ("process", "service", "task")
ACTIONS = ("deploy", "status", "rollback")


def _type_ok(kind: str, value: Any) -> bool:
    if isinstance(value, bool) and kind != "bool":  # JSON true is not 1
        return False
    return isinstance(value, KINDS[kind][0])


def path_module(platform: str) -> Any:
    """The path rules of the server (the action checks Windows paths on Linux)."""
    return ntpath if platform == "windows" else posixpath


def _inside(path: Any, rel: str) -> bool:
    """A relative path that stays inside the app folder (on either kind of server)."""
    norm = path.normpath(rel)
    return bool(rel) and not path.isabs(rel) and not ntpath.isabs(rel) and norm != ".." \
        and not norm.startswith(".." + path.sep)


def _contains(path: Any, outer: str, inner: str) -> bool:
    """Whether ``inner`` is ``outer`` or below it."""
    outer, inner = (path.normcase(path.normpath(p)) for p in (outer, inner))
    return inner == outer or inner.startswith(outer.rstrip(path.sep) + path.sep)


GIT_PROTOCOLS = ("https", "http", "ssh", "git", "file")  # git's own transports; no helper (ext::, fd::, x://)


def _remote_ok(remote: str) -> bool:
    """A URL of git's own transports, scp-like ``user@host:path``, a path or a remote name: never a
    transport helper (``<name>::<address>``, another ``<scheme>://``), which runs a program or reads a file
    descriptor."""
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", remote)
    return not remote.startswith("-") and not re.match(r"[A-Za-z][A-Za-z0-9+.-]*::", remote) and not re.search(
        r"[\0-\x1f]", remote) and (not scheme or scheme.group(1).lower() in GIT_PROTOCOLS + ("git+ssh", "ssh+git"))


def _branch_ok(branch: str) -> bool:
    return branch == "" or bool(re.fullmatch(r"[A-Za-z0-9._/-]+", branch)
                                and not branch.startswith("-") and ".." not in branch)


def _value_checks(p: Dict[str, Any], path: Any) -> List[Tuple[bool, str]]:
    app_dir = p["app_dir"]
    return [
        (bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", p["deploy_id"])),
         "deploy_id must be 1-64 letters, digits, '.', '_' or '-'"),
        (bool(re.fullmatch(r"[0-9a-f]{40}", p["sha"])), "sha must be a full 40-hex commit id"),
        (path.isabs(app_dir) and path.dirname(path.normpath(app_dir)) != path.normpath(app_dir),
         "app_dir must be an absolute path below a root"),
        (_remote_ok(p["git_remote"]), "git_remote must be a URL (https, ssh, git, file), user@host:path, a path "
         "or a remote name, not a transport helper (ext::, fd::) or an option"),
        (_branch_ok(p["branch"]), "branch is not a valid branch name"),
        (_inside(path, p["requirements_file"]), "requirements_file must be relative to app_dir"),
        (_inside(path, p["entry"]) or not p["entry"] and bool(p["app_command"]),
         "entry must be relative to app_dir"),
        (_inside(path, p["hooks_dir"]), "hooks_dir must be relative to app_dir"),
        (not _contains(path, path.join(app_dir, p["venv_dir"] or ".venv"), app_dir),
         "venv_dir must not be app_dir or one of its parents"),
        (p["backup_dir"] == "" or path.isabs(p["backup_dir"]),
         "backup_dir must be absolute (or empty)"),
        (p["health_url"] == "" or bool(re.match(r"https?://[^/\s]", p["health_url"])),
         "health_url must be an http:// or https:// URL"),
        (p["health_timeout"] > 0, "health_timeout must be > 0"),
        (p["stop_timeout"] >= 0, "stop_timeout must be >= 0"),
        (p["start_grace"] >= 0, "start_grace must be >= 0"),
        (p["backup_retention"] >= 1, "backup_retention must be >= 1"),
        (p["installer"] in INSTALLERS, "installer must be auto, pip or uv"),
        (p["platform"] in PLATFORMS, "platform must be windows or linux"),
        (p["action"] in ACTIONS, "action must be deploy, status or rollback"),
        (all(isinstance(k, str) and isinstance(v, str) and k and "=" not in k and "\0" not in k
             for k, v in p["app_env"].items()), "app_env must map variable names to strings"),
    ] + _artifact_checks(p) + _app_checks(p, path)


def _artifact_checks(p: Dict[str, Any]) -> List[Tuple[bool, str]]:
    if p["source"] != "artifact":
        return [(p["source"] in SOURCES, "source must be git or artifact")]
    return [
        (bool(p["artifact_url"]), "artifact_url is required with source artifact"),
        (bool(re.fullmatch(r"[0-9a-f]{64}", p["artifact_sha256"])),
         "artifact_sha256 must be 64 lowercase hex digits"),
        (p["artifact_size"] > 0, "artifact_size must be > 0"),
    ]


# --- the app's command, secrets, host and health answer (issue 14)

_STATUS = re.compile(r"([1-5]xx|[1-5]\d\d(-[1-5]\d\d)?)(,([1-5]xx|[1-5]\d\d(-[1-5]\d\d)?))*")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def status_ok(accepted: str, code: int) -> bool:
    """Whether ``code`` is one of ``accepted`` (``200,204``, ``2xx``, ``200-399``)."""
    for item in accepted.replace(" ", "").split(","):
        low, _, high = item.partition("-")
        if item.endswith("xx") and str(code)[:1] == item[0] or low.isdigit() and int(low) <= code <= int(
                high or low):
            return True
    return False


def _secret_refs_ok(mapping: Dict[str, Any]) -> bool:
    try:
        return all(_VARIABLE.fullmatch(k) and parse_secret_ref(v) for k, v in mapping.items())
    except (TypeError, ValueError):
        return False


def _command_ok(words: List[Any], path: Any) -> bool:
    """A module (-m ...), a script relative to app_dir, or a console script's bare name."""
    if not words or not all(isinstance(w, str) and w and "\0" not in w for w in words):
        return not words
    first = words[0]
    if first.startswith("-"):
        return first == "-m" and len(words) > 1
    return _inside(path, first) if first.lower().endswith(".py") else not (
        "/" in first or "\\" in first or first in (".", ".."))


def _app_checks(p: Dict[str, Any], path: Any) -> List[Tuple[bool, str]]:
    return [
        (_command_ok(p["app_command"], path), "app_command must start with -m MODULE, a script "
         "relative to app_dir, or the name of a console script in the venv"),
        (_secret_refs_ok(p["app_secrets"]), "app_secrets must map variable names to references: "
         + REFERENCE_FORMS),
        (not set(p["app_secrets"]) & set(p["app_env"]), "app_secrets and app_env name the same "
         "variable: keep one"),
        (p["app_host"] in APP_HOSTS, "app_host must be process, service or task"),
        (p["app_host"] != "task" or p["platform"] == "windows",
         "app_host task is a Windows Scheduled Task: on Linux use service"),
        (bool(re.fullmatch(r"(NT SERVICE\\|[A-Za-z0-9._-]{1,15}\\)?[A-Za-z0-9._ $-]{0,32}", p["app_user"])),
         "app_user must be an account name (NAME, DOMAIN\\NAME, NT SERVICE\\NAME or a gMSA DOMAIN\\NAME$)"),
        (bool(_STATUS.fullmatch(p["health_status"].replace(" ", ""))),
         "health_status must list codes or ranges, e.g. 2xx or 200,204 or 200-399"),
    ]


def check_params(raw: Any) -> Tuple[Dict[str, Any], List[str]]:
    """The parameters with defaults filled, and every problem found (empty: valid).

    Paths are judged by the rules of ``raw["platform"]``, so the action can check a
    Windows server's parameters before anything is sent.
    """
    if not isinstance(raw, dict):
        return {}, ["the parameters must be a JSON object"]
    errors = ["unknown parameter %r" % key for key in sorted(set(raw) - set(BY_NAME))]
    params: Dict[str, Any] = {}
    for spec in PARAMS:
        if spec.name not in raw:
            if spec.required:
                errors.append("%s is required" % spec.name)
            params[spec.name] = spec.default
        elif not _type_ok(spec.kind, raw[spec.name]):
            errors.append("%s must be %s" % (spec.name, KINDS[spec.kind][1]))
            params[spec.name] = spec.default
        else:
            params[spec.name] = raw[spec.name]
    if errors:
        return params, errors
    params["sha"] = params["sha"].lower()
    path = path_module(params["platform"])
    return params, [message for ok, message in _value_checks(params, path) if not ok]


def secret_values(params: Dict[str, Any]) -> List[str]:
    """Every value of a secret parameter (to redact from anything shown)."""
    found: List[str] = []
    for spec in PARAMS:
        value = params.get(spec.name)
        if spec.secret and isinstance(value, dict):
            found += [v for v in value.values() if isinstance(v, str) and v]
        elif spec.secret and isinstance(value, str) and value:
            found.append(value)
    return found


class SecretRef(NamedTuple):
    """Where one app secret lives: ``ssm:<parameter>`` or ``secretsmanager:<id>[#json-key]``."""

    source: str  # ssm or secretsmanager
    ident: str  # the parameter's name or ARN; the secret's name or ARN
    key: str = ""  # secretsmanager only: the JSON key to take from the secret's string


_SECRET_SOURCES = {
    # SSM names: letters, digits, _ . - / (a path starts with /), or a parameter ARN.
    "ssm": r"(/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*|arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/\S+)",
    # Secrets Manager names: letters, digits, / _ + = . @ - (never #), or a secret ARN.
    "secretsmanager": r"([A-Za-z0-9/_+=.@-]{1,512}|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}"
                      r":secret:[A-Za-z0-9/_+=.@-]+)",
}
REFERENCE_FORMS = "ssm:/path/to/parameter or secretsmanager:<name-or-arn>[#json-key]"


def parse_secret_ref(text: str) -> SecretRef:
    """The reference ``text`` names; ValueError saying what is wrong (it holds no value)."""
    source, _, rest = text.strip().partition(":")
    ident, _, key = rest.partition("#") if source == "secretsmanager" else (rest, "", "")
    if source not in _SECRET_SOURCES:
        raise ValueError("%r is not a secret reference: use %s" % (text, REFERENCE_FORMS))
    if not re.fullmatch(_SECRET_SOURCES[source], ident) or ("#" in rest and not key.strip()):
        raise ValueError("%r is not a valid %s reference: use %s" % (text, source, REFERENCE_FORMS))
    return SecretRef(source, ident, key.strip())


def parse_secret_lines(text: str) -> Tuple[Dict[str, SecretRef], List[str]]:
    """``NAME=reference`` lines (blank lines and # comments skipped): the references, the errors."""
    refs: Dict[str, SecretRef] = {}
    errors: List[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        name, sep, ref = line.strip().partition("=")
        name = name.strip()
        if not line.strip() or line.strip().startswith("#"):
            continue
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            errors.append("line %d: expected NAME=%s, NAME a variable name" % (number, REFERENCE_FORMS))
        elif name in refs:
            errors.append("line %d: %s is given twice" % (number, name))
        else:
            try:
                refs[name] = parse_secret_ref(ref)
            except ValueError as exc:
                errors.append("line %d: %s: %s" % (number, name, exc))
    return refs, errors


@dataclass(frozen=True)
class AgentResult:
    """What the agent reports on its last line (``RESULT_PREFIX`` + JSON)."""

    status: str  # success, failed, rolled_back, busy, invalid
    error: Optional[str] = None
    deploy_id: Optional[str] = None
    target_sha: Optional[str] = None
    previous_sha: Optional[str] = None
    running_sha: Optional[str] = None
    backup_path: Optional[str] = None
    health: str = "not_checked"  # healthy, unhealthy, not_checked
    health_status: Optional[int] = None  # the health URL's HTTP status
    pid: Optional[int] = None
    log_file: Optional[str] = None
    python: Optional[str] = None  # the server's Python version
    rolled_back: bool = False
    steps: List[Dict[str, Any]] = field(default_factory=list)  # {name, seconds, ok}
    discarded_changes: List[str] = field(default_factory=list)
    # fleet operations: what the agent did, and what status reports
    action: str = "deploy"  # deploy, status or rollback
    since: Optional[str] = None  # when the running app started (UTC)
    last_deploy: Optional[Dict[str, Any]] = None  # {deploy_id, sha, status, action, time, error}
    lock: Optional[str] = None  # who holds the deploy lock; None: free
    warnings: List[str] = field(default_factory=list)  # did not fail the deploy; shown as annotations

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def to_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def line(self) -> str:
        return result_line(self.to_dict())

    @classmethod
    def from_dict(cls, value: Any) -> Optional["AgentResult"]:
        """The result, or None when ``value`` is not a result object."""
        if not isinstance(value, dict) or not isinstance(value.get("status"), str):
            return None
        known = {k: v for k, v in value.items() if k in cls.__dataclass_fields__}
        try:
            return cls(**known)
        except TypeError:
            return None

    @classmethod
    def parse(cls, output: str) -> Optional["AgentResult"]:
        """The last result line in ``output``, parsed; None when there is none."""
        for text in reversed(output.splitlines()):
            if text.startswith(RESULT_PREFIX):
                try:
                    return cls.from_dict(json.loads(text[len(RESULT_PREFIX):]))
                except ValueError:
                    return None
        return None
