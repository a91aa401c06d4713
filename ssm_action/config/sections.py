"""The configuration in sections: each mode, gate and transport receives only the section it needs.

The gates never see the GitHub token; the GitHub lifecycle never sees the gates'
arguments. All sections are immutable and hide their secrets from ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from ssm_action.contract import Action, SecretRef


@dataclass(frozen=True)
class GatesConfig:
    """What the quality gates read (field names as the gates have always used them)."""

    working_directory: Path
    gates: tuple[str, ...]
    blocking_gates: tuple[str, ...]
    requirements_file: str
    coverage_threshold: float
    smoke_imports: tuple[str, ...]
    required_env: tuple[str, ...]
    safety_api_key: str
    pytest_args: tuple[str, ...]
    flake8_args: tuple[str, ...]
    pylint_args: tuple[str, ...]
    bandit_args: tuple[str, ...]
    pip_audit_args: tuple[str, ...]
    # What the gates install (empty: as the project declares itself), which variables the
    # tested code may see although they look secret, and ruff's extra arguments.
    install: tuple[str, ...]
    pass_env: tuple[str, ...]
    ruff_args: tuple[str, ...]
    gate_timeout: int
    cache_directory: Path
    python_version: str  # major.minor the project environment is built with; empty: the action's Python
    test_command: tuple[str, ...] = ()  # how the project runs its tests; empty: found from the project

    def __repr__(self) -> str:  # never show the safety key, even in a traceback
        return f"GatesConfig(working_directory={str(self.working_directory)!r}, gates={self.gates!r}, ...)"


@dataclass(frozen=True)
class TrafficConfig:
    """The rollout around a load balancer (target groups drained per wave, a first wave, a bake, alarms), and
    what a re-run redeploys."""

    target_groups: tuple[str, ...] = ()  # ELBv2 target group names or ARNs
    drain_timeout: int = 300  # seconds a wave's servers may take to drain
    first_wave: str = ""  # N or N%; "" for max-concurrency
    bake_time: int = 0  # seconds after each wave before the next
    alarms: tuple[str, ...] = ()  # CloudWatch alarm names
    redeploy: bool = False  # a re-run deploys to the servers already running its commit too

    @property
    def watched(self) -> bool:
        return bool(self.target_groups or self.alarms)


@dataclass(frozen=True)
class TargetsConfig:
    """Which servers, and how SSM reaches them."""

    platform: str
    aws_region: str
    instance_ids: tuple[str, ...]
    targets: tuple[tuple[str, tuple[str, ...]], ...]  # (tag:Key, values)
    s3_bucket: str  # where SSM writes the full output
    s3_key_prefix: str
    delivery_timeout: int
    execution_timeout: int
    max_concurrency: str  # the wave size over the whole fleet
    max_errors: str  # the fleet-wide error budget
    rollback_fleet_on_failure: bool
    cloudwatch_log_group: str
    traffic: TrafficConfig = TrafficConfig()

    def names(self, transport: str) -> list[str]:
        """The targets as people read them (audit record, GitHub deployment payload)."""
        if transport == "local":
            return ["local"]
        return list(self.instance_ids) or [f"{key}={','.join(values)}" for key, values in self.targets]


@dataclass(frozen=True)
class AppConfig:
    """How the app is started, configured, hosted and checked (config/app.py reads it)."""

    app_command: tuple[str, ...]
    app_env: tuple[tuple[str, str], ...]  # plain values: they travel in the command
    app_secrets: tuple[tuple[str, SecretRef], ...]  # name -> reference (parsed once); values never travel
    app_host: str
    app_user: str
    stop_timeout: float
    start_grace: float
    health_check_status: str
    health_check_contains: str


@dataclass(frozen=True)
class ServerConfig:
    """The app on the server: what the agent's parameters are built from."""

    app_directory: str
    app_entry: str
    requirements_file: str  # relative to working-directory
    server_python: str
    venv_directory: str
    server_installer: str
    git_remote: str
    hooks_directory: str
    health_check_url: str
    health_check_timeout: int
    backup_directory: str
    backup_retention: int
    rollback_on_failure: bool
    app: AppConfig


@dataclass(frozen=True)
class GithubConfig:
    """The GitHub deployment record."""

    github_token: str
    create_deployment: bool
    environment_url: str

    def __repr__(self) -> str:
        return f"GithubConfig(create_deployment={self.create_deployment!r}, ...)"


@dataclass(frozen=True)
class AuditConfig:
    """Where the audit record is stored."""

    s3_bucket: str
    s3_key_prefix: str
    aws_region: str


@dataclass(frozen=True)
class DeliveryConfig:
    """How the servers get the app: git, or an artifact the runner packs and stores."""

    source: str = "git"  # git or artifact
    wheelhouse: bool = False  # ship the requirements as wheels (artifact only)
    server_python_version: str = ""  # major.minor the wheelhouse is built for; "" for the local transport
    cache_directory: Path = Path(".ssm-action-cache")  # the local transport's artifact store is under it

    @property
    def artifact(self) -> bool:
        return self.source == "artifact"


@dataclass(frozen=True)
class DeployConfig:
    """Everything deploy mode reads (and the status and rollback modes, which reach the same targets)."""

    mode: str  # deploy or all, status, rollback
    transport: str
    dry_run: bool
    environment: str
    environment_map: tuple[tuple[str, str], ...]
    working_directory: Path
    targets: TargetsConfig
    server: ServerConfig
    github: GithubConfig
    audit: AuditConfig
    allow_untrusted_events: bool
    notify_webhook: str  # a secret: never shown
    delivery: DeliveryConfig = DeliveryConfig()

    @property
    def agent_action(self) -> Action:
        """What the agent does on each target: deploy, status or rollback."""
        return Action(self.mode) if self.mode in ("status", "rollback") else Action.DEPLOY

    @property
    def python_on_server(self) -> str:
        return self.server.server_python or ("python" if self.targets.platform == "windows" else "python3")

    def __repr__(self) -> str:
        return f"DeployConfig(transport={self.transport!r}, dry_run={self.dry_run!r}, ...)"


@dataclass(frozen=True)
class Config:
    mode: str
    gates: GatesConfig
    deploy: DeployConfig

    @property
    def deploys(self) -> bool:
        return self.mode in ("deploy", "all", "status", "rollback")

    @property
    def runs_gates(self) -> bool:
        return self.mode in ("gates", "all")

    def __repr__(self) -> str:
        return f"Config(mode={self.mode!r}, {self.gates!r}, {self.deploy!r})"


SECTIONS = (GatesConfig, TargetsConfig, AppConfig, ServerConfig, GithubConfig, AuditConfig, DeliveryConfig,
            DeployConfig, Config, TrafficConfig)


def input_fields() -> set[str]:
    """Every field that holds an input (not a section): each is an action.yml input, snake_cased."""
    section_types = {cls.__name__ for cls in SECTIONS}
    return {f.name for cls in SECTIONS for f in fields(cls) if str(f.type) not in section_types}
