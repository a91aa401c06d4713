"""One immutable, typed configuration in sections, read from the inputs exactly as the runner sets them.

parse() is the one reader: it builds every section, checks every input and returns ALL problems at once, each naming the
input, the bad value and how to fix it. Nothing here talks to AWS or GitHub.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from ssm_action import spec
from ssm_action.config import app_inputs
from ssm_action.config.reader import (FALSE_WORDS, SECRET_INPUTS, TRUE_WORDS, WINDOWS_ABS,  # noqa: F401 # re-exported
                                      ConfigError, Reader, split_list)
from ssm_action.config import traffic_inputs
from ssm_action.config.sections import (AuditConfig, Config, DeliveryConfig, DeployConfig, GatesConfig,
                                        GithubConfig, ServerConfig, TargetsConfig)

MODES = ("gates", "deploy", "all", "status", "rollback")
TRANSPORTS = ("ssm", "local")
PLATFORMS = ("windows", "linux")
INSTALLERS = ("auto", "pip", "uv")
GATE_NAMES = ("tests", "pip-audit", "safety", "bandit", "flake8", "ruff", "pylint", "smoke", "env", "deps")
INSTALL_OPTIONS = ("-r", "--requirement", "-c", "--constraint", "-e", "--editable", "--group")
SOURCES = ("git", "artifact")
PYTHON_VERSION = re.compile(r"^3\.\d{1,2}$")

INSTANCE_ID = re.compile(r"^(i|mi)-[0-9a-f]{8,17}$")
TARGET = re.compile(r"^tag:([^=\s][^=]{0,127})=(.{1,256})$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_CONCURRENCY = re.compile(r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
MAX_ERRORS = re.compile(r"^(0|[1-9][0-9]*|[0-9]%|[1-9][0-9]%|100%)$")
MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENVIRONMENT = re.compile(r"^[\w .-]{1,255}$")
LOG_GROUP = re.compile(r"^[\w./#-]{1,512}$")
S3_KEY_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]{0,512}$")  # S3's safe key characters: nothing to encode
MAX_TARGET_KEYS = 5  # SSM accepts at most 5 Targets entries


def raw_inputs(env: Mapping[str, str], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every declared input: CLI overrides, else INPUT_* as the runner sets it, else the default."""
    raw = {}
    for item in spec.load().inputs:
        value = env.get(item.env_name)
        if value is None:
            value = env.get("GITHUB_TOKEN", "") if item.is_expression else item.default
        raw[item.name] = value
    raw.update(overrides or {})
    return raw


def _gate_list(reader: Reader, name: str) -> tuple[str, ...]:
    values = split_list(reader.raw[name])
    if values == ("all",):
        return GATE_NAMES
    for value in values:
        if value not in GATE_NAMES:
            reader.fail(name, f"is not a gate; gates are: {', '.join(GATE_NAMES)} (or all).", value)
    return tuple(gate for gate in GATE_NAMES if gate in values)


def _install(reader: Reader) -> tuple[str, ...]:
    """The install input as installer arguments; options other than those named are refused."""
    words = reader.args("install")
    if "none" in words and words != ("none",):
        reader.fail("install", "none cannot be combined with anything else.")
    wants_value = False
    for word in words:
        if word.startswith("-") and not wants_value and word not in INSTALL_OPTIONS:
            reader.fail("install", f"{word} is not supported; use requirements, paths such as .[test], "
                        f"or {', '.join(INSTALL_OPTIONS)}.")
        wants_value = word in INSTALL_OPTIONS and not wants_value
    if wants_value:
        reader.fail("install", f"{words[-1]} needs a value, e.g. -r requirements/test.txt or --group tests.")
    return words


def _environment_map(reader: Reader) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in split_list(reader.raw["environment-map"]):
        branch, sep, environment = (part.strip() for part in item.partition("="))
        if not sep or not branch or not ENVIRONMENT.match(environment):
            reader.fail("environment-map", "is not a branch=environment pair, e.g. dev=development.", item)
            continue
        if branch.startswith("tag:") and not branch[4:].strip():
            reader.fail("environment-map", "has a tag: entry without a pattern; write tag:PATTERN=environment, "
                        "e.g. tag:v*=production.", item)
            continue
        pairs.append((branch, environment))
    return tuple(pairs)


def _targets(reader: Reader) -> tuple[tuple[str, tuple[str, ...]], ...]:
    grouped: dict[str, list[str]] = {}
    for item in split_list(reader.raw["targets"]):
        match = TARGET.match(item)
        if not match:
            reader.fail("targets", "is not of the form tag:Key=Value, e.g. tag:App=web.", item)
            continue
        grouped.setdefault(f"tag:{match.group(1).strip()}", []).append(match.group(2).strip())
    if len(grouped) > MAX_TARGET_KEYS:
        reader.fail("targets", f"uses {len(grouped)} tag keys; SSM accepts at most {MAX_TARGET_KEYS}.")
    return tuple((key, tuple(values)) for key, values in grouped.items())


def workspace(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("GITHUB_WORKSPACE") or os.getcwd())


def _resolve_dir(value: str, env: Mapping[str, str]) -> Path:
    return (workspace(env) / value).resolve()


AgentCheck = Callable[[DeployConfig], "list[tuple[str, str]]"]  # (input, problem) the deploy agent would refuse


def parse(raw: Mapping[str, str], env: Mapping[str, str] = os.environ,
          agent_check: AgentCheck | None = None) -> tuple[Config | None, list[ConfigError]]:
    """Build the Config, or return every problem found. ``agent_check`` (deploy.plan.input_errors, given by
    the caller: config sits below deploy) adds the agent's own checks on the parameters the inputs make."""
    r = Reader(raw)
    working_directory = _resolve_dir(r.text("working-directory") or ".", env)
    requirements_file = r.relative_path("requirements-file")
    # read once, used by two sections: SSM writes its output to the bucket the audit record goes to
    audit = AuditConfig(s3_bucket=_bucket(r), s3_key_prefix=_key_prefix(r),
                        aws_region=_region(r, env))
    mode = r.choice("mode", MODES)
    config = Config(
        mode=mode,
        gates=_gates(r, working_directory, requirements_file, env),
        deploy=DeployConfig(
            mode=mode,
            transport=r.choice("transport", TRANSPORTS),
            dry_run=r.boolean("dry-run"),
            environment=r.matching("environment", ENVIRONMENT, "use letters, digits, spaces, '.', '-' or '_'."),
            environment_map=_environment_map(r),
            working_directory=working_directory,
            targets=_targets_section(r, audit),
            server=_server(r, requirements_file),
            github=GithubConfig(github_token=r.text("github-token"), create_deployment=r.boolean("create-deployment"),
                                environment_url=r.url("environment-url")),
            audit=audit,
            allow_untrusted_events=r.boolean("allow-untrusted-events"),
            notify_webhook=r.url("notify-webhook"),
            delivery=_delivery(r, env),
        ),
    )
    _check_together(config, r, agent_check)
    _check_delivery(config, r)
    if config.deploys:
        traffic_inputs.check(config.deploy.targets.traffic, config.deploy.transport, r)
    return (None, r.errors) if r.errors else (config, [])


def _gates(r: Reader, working_directory: Path, requirements_file: str, env: Mapping[str, str]) -> GatesConfig:
    return GatesConfig(
        working_directory=working_directory,
        gates=_gate_list(r, "gates"),
        blocking_gates=_gate_list(r, "blocking-gates"),
        requirements_file=requirements_file,
        coverage_threshold=r.number("coverage-threshold", 0, 100, percent=True),
        smoke_imports=r.items("smoke-imports", MODULE.match, "use dotted module names, e.g. app or app.main."),
        required_env=r.items("required-env", ENV_NAME.match, "use variable names like DATABASE_URL."),
        safety_api_key=r.text("safety-api-key"),
        pytest_args=r.args("pytest-args"),
        test_command=r.args("test-command"),
        flake8_args=r.args("flake8-args"),
        pylint_args=r.args("pylint-args"),
        bandit_args=r.args("bandit-args"),
        pip_audit_args=r.args("pip-audit-args"),
        install=_install(r),
        pass_env=r.items("pass-env", lambda name: bool(ENV_NAME.match(name)), "use variable names like DATABASE_URL."),
        ruff_args=r.args("ruff-args"),
        gate_timeout=r.integer("gate-timeout", 10, 21600),
        cache_directory=_resolve_dir(r.text("cache-directory") or ".ssm-action-cache", env),
        python_version=r.matching("python-version", PYTHON_VERSION,
                                  "must be a Python as major.minor, e.g. 3.12 (or empty for the action's Python)."),
    )


def _region(r: Reader, env: Mapping[str, str]) -> str:
    given = r.matching("aws-region", REGION, "must be an AWS region code, e.g. us-east-1.")
    return given or env.get("AWS_REGION", "") or env.get("AWS_DEFAULT_REGION", "")


def _key_prefix(r: Reader) -> str:
    """Goes into the SSM request and every S3 key (output, audit, artifacts): no control character, no
    character S3 or a console link would need encoded, no empty or relative part."""
    value = r.matching("s3-key-prefix", S3_KEY_PREFIX, "must be an S3 key prefix of letters, digits and ! - _ . * ' "
                       "( ) / (at most 512), e.g. ssm-deploy/web.").strip("/")
    if any(part in ("", ".", "..") for part in value.split("/")) and value:
        r.fail("s3-key-prefix", "must not have empty, '.' or '..' parts (// or /../), e.g. ssm-deploy/web.")
    return value


def _bucket(r: Reader) -> str:
    return r.matching("s3-bucket", BUCKET, "must be an S3 bucket name (3-63 lowercase letters, digits, '.' or "
                      "'-'), without s3://.")


def _targets_section(r: Reader, audit: AuditConfig) -> TargetsConfig:
    return TargetsConfig(
        platform=r.choice("platform", PLATFORMS),
        aws_region=audit.aws_region,
        instance_ids=r.items("instance-ids", INSTANCE_ID.match,
                             "instance ids look like i-0123456789abcdef0 or mi-0123456789abcdef0."),
        targets=_targets(r),
        s3_bucket=audit.s3_bucket,
        s3_key_prefix=audit.s3_key_prefix,
        delivery_timeout=r.integer("delivery-timeout", 30, 2592000),
        execution_timeout=r.integer("execution-timeout", 1, 172800),
        max_concurrency=r.matching("max-concurrency", MAX_CONCURRENCY,
                                   "must be a number from 1 or a percentage from 1% to 100%, e.g. 10 or 25%."),
        max_errors=r.matching("max-errors", MAX_ERRORS,
                              "must be a number from 0 or a percentage from 0% to 100%, e.g. 0 or 10%."),
        rollback_fleet_on_failure=r.boolean("rollback-fleet-on-failure"),
        traffic=traffic_inputs.read(r),
        cloudwatch_log_group=r.matching("cloudwatch-log-group", LOG_GROUP,
                                        "must be a CloudWatch Logs group name (1-512 of letters, digits, "
                                        "'_', '-', '/', '.', '#'), e.g. /ssm-deploy/web."),
    )


def _server(r: Reader, requirements_file: str) -> ServerConfig:
    return ServerConfig(
        app_directory=r.text("app-directory"),
        app_entry=r.relative_path("app-entry"),
        requirements_file=requirements_file,
        server_python=r.text("server-python"),
        venv_directory=r.text("venv-directory"),
        server_installer=r.choice("server-installer", INSTALLERS),
        git_remote=r.text("git-remote"),
        hooks_directory=r.relative_path("hooks-directory"),
        health_check_url=r.url("health-check-url"),
        health_check_timeout=r.integer("health-check-timeout", 1, 3600),
        backup_directory=r.text("backup-directory"),
        backup_retention=r.integer("backup-retention", 1, 100),
        rollback_on_failure=r.boolean("rollback-on-failure"),
        app=app_inputs.read(r),
    )


def _check_together(config: Config, r: Reader, agent_check: AgentCheck | None) -> None:
    """Rules that involve more than one input."""
    deploy, server, targets = config.deploy, config.deploy.server, config.deploy.targets
    try:
        is_folder, why = deploy.working_directory.is_dir(), ""
    except OSError as exc:  # e.g. a name over 255 bytes: ENAMETOOLONG, not False
        is_folder, why = False, f" ({exc.strerror or exc})"
    if not is_folder:
        r.fail("working-directory", f"is not a folder{why}; give a path relative to the workspace, e.g. . or "
               "services/api.")
    if not server.app_entry and not server.app.app_command:
        r.fail("app-entry", "is empty; name the app's entry script, e.g. app.py (or give app-command).")
    if not config.deploys:
        return
    if not server.app_directory:
        r.fail("app-directory", "is required to deploy: the app's git clone on the server, e.g. C:\\apps\\myapp.")
    if agent_check:
        _check_agent_params(config, r, agent_check)
    if deploy.transport != "ssm":
        return
    if bool(targets.instance_ids) == bool(targets.targets):
        which = "both are set" if targets.instance_ids else "neither is set"
        r.fail("instance-ids", f"give exactly one of instance-ids or targets to deploy through SSM ({which}).")
    platform_known = "platform" not in {error.input for error in r.errors}  # else the check would guess
    if server.app_directory and platform_known and not _absolute_for(targets.platform, server.app_directory):
        example = "C:\\apps\\myapp" if targets.platform == "windows" else "/srv/myapp"
        r.fail("app-directory", f"must be an absolute {targets.platform} path on the server, e.g. {example}.")
    if not targets.aws_region and not deploy.dry_run:
        r.fail("aws-region", "is not set and AWS_REGION is empty; set aws-region, e.g. us-east-1, "
               "or configure credentials with aws-actions/configure-aws-credentials.")


def _check_agent_params(config: Config, r: Reader, agent_check: AgentCheck) -> None:
    """The agent's own checks on the parameters these inputs make, now rather than on every server."""
    named = {error.input for error in r.errors}
    for name, problem in agent_check(config.deploy):
        if name not in named:  # the input's own check already said what is wrong
            r.fail(name, f"is refused by the deploy agent: {problem}.")


def _absolute_for(platform: str, path: str) -> bool:
    return bool(WINDOWS_ABS.match(path)) if platform == "windows" else path.startswith("/")


# -- artifact delivery: the servers get a zip the runner packed instead of fetching the commit

def _delivery(r: Reader, env: Mapping[str, str]) -> DeliveryConfig:
    return DeliveryConfig(
        source=r.choice("source", SOURCES),
        wheelhouse=r.boolean("wheelhouse"),
        server_python_version=r.matching("server-python-version", PYTHON_VERSION,
                                         "must be the servers' Python as major.minor, e.g. 3.11."),
        cache_directory=_resolve_dir(r.text("cache-directory") or ".ssm-action-cache", env),
    )


def _check_delivery(config: Config, r: Reader) -> None:
    deploy, delivery = config.deploy, config.deploy.delivery
    if not config.deploys:
        return
    if delivery.wheelhouse and not delivery.artifact:
        r.fail("wheelhouse", "needs source: artifact (the wheels travel inside the artifact); set source: artifact "
               "or wheelhouse: false.")
    if not delivery.artifact or deploy.transport != "ssm":
        return
    if not deploy.audit.s3_bucket:
        r.fail("s3-bucket", "is required with source: artifact through SSM: the servers download the artifact from "
               "it; set s3-bucket, e.g. my-deploy-artifacts.", "")
    if delivery.wheelhouse and not delivery.server_python_version:
        r.fail("server-python-version", "is required with wheelhouse: true through SSM: the wheels are built for "
               "the servers' Python; set it to their major.minor, e.g. 3.11.", "")
