"""``source: artifact`` on the runner: pack the plan's commit, store it, give the agent its reference.

Runs after the plan is built (every input checked) and before the transport sends anything:

- ``artifact.pack`` packs exactly the plan's commit (``GITHUB_SHA``) with ``git archive``, with a
  wheelhouse for the servers' platform and Python when ``wheelhouse: true``;
- the store: S3 (``s3-bucket``; HEAD first, so a re-run of the commit uploads nothing), or, for
  the local transport without ``s3-bucket``, a folder under ``cache-directory`` with the same
  content-addressed names;
- the plan's parameters get ``artifact_url`` (a presigned GET URL: a credential, masked),
  ``artifact_sha256`` and ``artifact_size``.

A dry run packs (so it can show the file list, the size and the sha256) and stores nothing.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess  # nosec B404 # asks the local server Python its version
import sys
import tempfile
from pathlib import Path, PurePosixPath

from ssm_action import runner
from ssm_action.config.sections import DeployConfig
from ssm_action.deploy import artifact, artifact_store
from ssm_action.deploy.model import Plan
from ssm_action.deploy.wheelhouse import WheelTarget
from ssm_action.errors import ActionError


@dataclasses.dataclass(frozen=True)
class Stored:
    where: str  # s3://bucket/key or the local file
    url: str  # what the agent downloads: a presigned URL (secret) or a local path
    bytes_sent: int  # 0 when the same artifact was already stored


def server_python_version(cfg: DeployConfig) -> str:
    """major.minor the wheelhouse is for: the input, else (local transport) the local server Python's."""
    if cfg.delivery.server_python_version or cfg.transport != "local":
        return cfg.delivery.server_python_version
    python = cfg.server.server_python or sys.executable
    try:
        done = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],  # nosec B603
                              capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ActionError("Artifact not packed", f"server-python {python!r} does not run ({exc}): fix server-python "
                          "or set server-python-version.", anchor="artifact-delivery") from exc
    return done.stdout.strip()


def repository_root(cfg: DeployConfig, repo_prefix: str) -> Path:
    """The checkout's root: working-directory without the part of it inside the repository."""
    depth = len(PurePosixPath(repo_prefix.strip("/")).parts) if repo_prefix.strip("/") else 0
    return cfg.working_directory.parents[depth - 1] if depth else cfg.working_directory


def pack(plan: Plan, cfg: DeployConfig, out_dir: Path) -> artifact.Artifact:
    target = WheelTarget(plan.params.platform, server_python_version(cfg)) if cfg.delivery.wheelhouse else None
    return artifact.pack(repository_root(cfg, plan.ctx.repo_prefix), plan.ctx.sha, out_dir,
                         subdir=plan.ctx.repo_prefix, requirements_file=cfg.server.requirements_file, wheels=target)


def store(packed: artifact.Artifact, cfg: DeployConfig) -> Stored:
    """Stored once under its content address; what the servers download it from."""
    bucket, prefix = cfg.audit.s3_bucket, cfg.audit.s3_key_prefix
    if not bucket:  # the local transport only (the config requires s3-bucket for SSM)
        path = cfg.delivery.cache_directory / packed.key("")  # <cache-directory>/artifacts/<commit>-<sha256>.zip
        sent = 0
        if not path.is_file() or path.stat().st_size != packed.size:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(packed.path, path.with_suffix(".partial"))
            path.with_suffix(".partial").replace(path)
            sent = packed.size
        return Stored(str(path), str(path), sent)
    published = artifact_store.publish(artifact_store.client(cfg.targets.aws_region or None), bucket, prefix, packed)
    runner.mask(published.url)  # a credential for an hour
    return Stored(published.where, published.url, published.bytes_sent)


def ship(plan: Plan, cfg: DeployConfig) -> Plan:
    """The plan with the artifact's reference in its parameters (a dry run: a stand-in URL)."""
    with tempfile.TemporaryDirectory(prefix="ssm-action-artifact-") as tmp:
        packed = pack(plan, cfg, Path(tmp))
        summary = (f"artifact of {packed.commit[:12]}: {packed.size:,} bytes, sha256 {packed.sha256}, "
                   f"{len(packed.files)} file(s), {len(packed.wheels)} wheel(s)")
        if plan.dry_run:
            lines = artifact.describe(packed, cfg.audit.s3_bucket, cfg.audit.s3_key_prefix)
            if not cfg.audit.s3_bucket:  # the local transport's folder store
                lines[1] = f"would be stored at {cfg.delivery.cache_directory / packed.key('')} (not copied: dry run)"
            with runner.group("Dry run: the artifact"):
                for line in lines:
                    runner.log(line)
            url = "dry-run://not-uploaded"
        else:
            stored = store(packed, cfg)
            runner.log(f"{summary}; " + (f"uploaded {stored.bytes_sent:,} bytes to {stored.where}" if stored.bytes_sent
                                         else f"already stored at {stored.where}: nothing uploaded"))
            url = stored.url
    params = dataclasses.replace(plan.params, artifact_url=url, artifact_sha256=packed.sha256,
                                 artifact_size=packed.size)
    return dataclasses.replace(plan, params=params)
