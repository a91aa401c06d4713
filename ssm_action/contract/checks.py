"""The checks on the agent's parameters (run by the action at config time and by the agent on the
server), each naming the parameter it is about; paths judged by the server's rules; and
``parse_params``, which reads the JSON object and runs them.

The messages start with the parameter's name: docs/troubleshooting.md lists them as written.
"""

from __future__ import annotations

import ntpath
import posixpath
import re
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from ssm_action.contract.params import BY_NAME, KINDS, PARAMS, AgentParams, ParamProblem
from ssm_action.contract.secret_refs import REFERENCE_FORMS, VARIABLE, SecretRef, parse_secret_ref

Check = Tuple[str, bool, str]  # (parameter, passed, message)
PLATFORMS = ("windows", "linux")
SOURCES = ("git", "artifact")
INSTALLERS = ("auto", "pip", "uv")
APP_HOSTS = ("process", "service", "task")
ACTIONS = ("deploy", "status", "rollback")  # action.Action's values
GIT_PROTOCOLS = ("https", "http", "ssh", "git", "file")  # git's own transports; no helper (ext::, fd::, x://)


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
    return bool(inner == outer or inner.startswith(outer.rstrip(path.sep) + path.sep))


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


def value_checks(p: AgentParams, path: Any, bad_refs: Iterable[str]) -> List[Check]:
    """Every check of well-typed parameters; ``bad_refs``: the app_secrets whose reference is refused."""
    app_dir = p.app_dir
    return [
        ("deploy_id", bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", p.deploy_id)),
         "deploy_id must be 1-64 letters, digits, '.', '_' or '-'"),
        ("sha", bool(re.fullmatch(r"[0-9a-f]{40}", p.sha)), "sha must be a full 40-hex commit id"),
        ("app_dir", path.isabs(app_dir) and path.dirname(path.normpath(app_dir)) != path.normpath(app_dir),
         "app_dir must be an absolute path below a root"),
        ("git_remote", _remote_ok(p.git_remote), "git_remote must be a URL (https, ssh, git, file), user@host:path, "
         "a path or a remote name, not a transport helper (ext::, fd::) or an option"),
        ("branch", _branch_ok(p.branch), "branch is not a valid branch name"),
        ("requirements_file", _inside(path, p.requirements_file), "requirements_file must be relative to app_dir"),
        ("entry", _inside(path, p.entry) or not p.entry and bool(p.app_command),
         "entry must be relative to app_dir"),
        ("hooks_dir", _inside(path, p.hooks_dir), "hooks_dir must be relative to app_dir"),
        ("venv_dir", not _contains(path, path.join(app_dir, p.venv_dir or ".venv"), app_dir),
         "venv_dir must not be app_dir or one of its parents"),
        ("backup_dir", p.backup_dir == "" or path.isabs(p.backup_dir),
         "backup_dir must be absolute (or empty)"),
        ("health_url", p.health_url == "" or bool(re.match(r"https?://[^/\s]", p.health_url)),
         "health_url must be an http:// or https:// URL"),
        ("health_timeout", p.health_timeout > 0, "health_timeout must be > 0"),
        ("stop_timeout", p.stop_timeout >= 0, "stop_timeout must be >= 0"),
        ("start_grace", p.start_grace >= 0, "start_grace must be >= 0"),
        ("backup_retention", p.backup_retention >= 1, "backup_retention must be >= 1"),
        ("installer", p.installer in INSTALLERS, "installer must be auto, pip or uv"),
        ("platform", p.platform in PLATFORMS, "platform must be windows or linux"),
        ("action", p.action in ACTIONS, "action must be deploy, status or rollback"),
        ("app_env", all(isinstance(k, str) and isinstance(v, str) and k and "=" not in k and "\0" not in k
                        for k, v in p.app_env.items()), "app_env must map variable names to strings"),
    ] + _artifact_checks(p) + _app_checks(p, path, set(bad_refs))


def _artifact_checks(p: AgentParams) -> List[Check]:
    if p.source != "artifact":
        return [("source", p.source in SOURCES, "source must be git or artifact")]
    return [
        ("artifact_url", bool(p.artifact_url), "artifact_url is required with source artifact"),
        ("artifact_sha256", bool(re.fullmatch(r"[0-9a-f]{64}", p.artifact_sha256)),
         "artifact_sha256 must be 64 lowercase hex digits"),
        ("artifact_size", p.artifact_size > 0, "artifact_size must be > 0"),
    ]


# --- the app's command, secrets, host and health answer

_STATUS = re.compile(r"([1-5]xx|[1-5]\d\d(-[1-5]\d\d)?)(,([1-5]xx|[1-5]\d\d(-[1-5]\d\d)?))*")


def status_ok(accepted: str, code: int) -> bool:
    """Whether ``code`` is one of ``accepted`` (``200,204``, ``2xx``, ``200-399``)."""
    for item in accepted.replace(" ", "").split(","):
        low, _, high = item.partition("-")
        if item.endswith("xx") and str(code)[:1] == item[0] or low.isdigit() and int(low) <= code <= int(
                high or low):
            return True
    return False


def _command_ok(words: List[Any], path: Any) -> bool:
    """A module (-m ...), a script relative to app_dir, or a console script's bare name."""
    if not words or not all(isinstance(w, str) and w and "\0" not in w for w in words):
        return not words
    first = words[0]
    if first.startswith("-"):
        return bool(first == "-m" and len(words) > 1)
    return _inside(path, first) if first.lower().endswith(".py") else not (
        "/" in first or "\\" in first or first in (".", ".."))


def _app_checks(p: AgentParams, path: Any, bad_refs: Set[str]) -> List[Check]:
    return [
        ("app_command", _command_ok(list(p.app_command), path), "app_command must start with -m MODULE, a script "
         "relative to app_dir, or the name of a console script in the venv"),
        ("app_secrets", not bad_refs, "app_secrets must map variable names to references: " + REFERENCE_FORMS),
        ("app_secrets", not (set(p.app_secrets) | bad_refs) & set(p.app_env), "app_secrets and app_env name the "
         "same variable: keep one"),
        ("app_host", p.app_host in APP_HOSTS, "app_host must be process, service or task"),
        ("app_host", p.app_host != "task" or p.platform == "windows",
         "app_host task is a Windows Scheduled Task: on Linux use service"),
        ("app_user", bool(re.fullmatch(r"(NT SERVICE\\|[A-Za-z0-9._-]{1,15}\\)?[A-Za-z0-9._ $-]{0,32}", p.app_user)),
         "app_user must be an account name (NAME, DOMAIN\\NAME, NT SERVICE\\NAME or a gMSA DOMAIN\\NAME$)"),
        ("health_status", bool(_STATUS.fullmatch(p.health_status.replace(" ", ""))),
         "health_status must list codes or ranges, e.g. 2xx or 200,204 or 200-399"),
    ]


# -- the parse: the JSON object's types, then the checks above

def _type_ok(kind: str, value: Any) -> bool:
    if isinstance(value, bool) and kind != "bool":  # JSON true is not 1
        return False
    return isinstance(value, KINDS[kind][0])


def _problem(name: str, message: str) -> ParamProblem:
    spec = BY_NAME.get(name)
    return ParamProblem(name, spec.input if spec else None, message)


def _secret_refs(mapping: Dict[Any, Any]) -> Tuple[Dict[str, SecretRef], List[str]]:
    """The references parsed (the only place the agent's parameters parse them), and the refused names."""
    refs: Dict[str, SecretRef] = {}
    bad: List[str] = []
    for name, text in mapping.items():
        try:
            if isinstance(name, str) and VARIABLE.fullmatch(name) and isinstance(text, str):
                refs[name] = parse_secret_ref(text)
                continue
        except ValueError:
            pass
        bad.append(str(name))
    return refs, bad


def parse_params(raw: Any) -> Tuple[Optional[AgentParams], List[ParamProblem]]:
    """The parameters with defaults filled, or None and every problem found.

    Paths are judged by the rules of ``raw["platform"]``, so the action can check a
    Windows server's parameters before anything is sent.
    """
    if not isinstance(raw, dict):
        return None, [ParamProblem("", None, "the parameters must be a JSON object")]
    errors = [_problem(key, "unknown parameter %r" % key) for key in sorted(set(raw) - set(BY_NAME), key=str)]
    values: Dict[str, Any] = {}
    for spec in PARAMS:
        if spec.name not in raw:
            if spec.required:
                errors.append(_problem(spec.name, "%s is required" % spec.name))
        elif not _type_ok(spec.kind, raw[spec.name]):
            errors.append(_problem(spec.name, "%s must be %s" % (spec.name, KINDS[spec.kind][1])))
        else:
            values[spec.name] = raw[spec.name]
    if errors:
        return None, errors
    values["sha"] = values["sha"].lower()
    values["app_secrets"], bad_refs = _secret_refs(values.get("app_secrets", {}))
    params = AgentParams(**values)
    checks = value_checks(params, path_module(params.platform), bad_refs)
    errors = [_problem(name, message) for name, ok, message in checks if not ok]
    return (None, errors) if errors else (params, [])
