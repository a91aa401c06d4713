"""Who, what and where of this run, from the runner's GITHUB_* variables.

Outside GitHub (the CLI) the commit and branch come from the repository itself.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess  # nosec B404
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunContext:
    actor: str
    repository: str  # owner/name
    sha: str
    branch: str
    event: str
    run_id: str
    run_attempt: str
    server_url: str
    api_url: str
    repo_prefix: str = ""  # working-directory inside the repository, e.g. "services/api/"
    tag: str = ""  # the tag the run is for (then branch is "")

    @property
    def ref_label(self) -> str:
        """The branch, or the tag, for people to read."""
        return self.branch or (f"tag {self.tag}" if self.tag else "no branch")

    @property
    def run_url(self) -> str:
        if not (self.repository and self.run_id):
            return ""
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    @property
    def deploy_id(self) -> str:
        return f"{self.run_id or 'local'}-{self.run_attempt or '1'}"


def _git(repo: Path, *args: str) -> str:
    try:
        # git from PATH with fixed arguments and no shell
        done = subprocess.run(  # nosec B603 B607
            # safe.directory: in the container the checkout belongs to another user
            ["git", "-c", "safe.directory=*", "-C", str(repo), *args],
            capture_output=True, text=True, timeout=30, check=False,
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _pull_request_head(env: Mapping[str, str]) -> str:
    """On pull requests GITHUB_REF_NAME is '<n>/merge'; the branch is the head ref."""
    if env.get("GITHUB_HEAD_REF"):
        return env["GITHUB_HEAD_REF"]
    path = env.get("GITHUB_EVENT_PATH")
    if not path or not os.path.exists(path):
        return ""
    try:
        with open(path, encoding="utf-8") as fh:
            event = json.load(fh)
    except (OSError, ValueError):
        return ""
    return str((event.get("pull_request") or {}).get("head", {}).get("ref", ""))


def branch_and_tag(repo: Path, env: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """The branch the run is for, or the tag: never both. A tag is no branch, even one named
    main (tags bypass branch protection); a ref of another kind is neither."""
    ref, name = env.get("GITHUB_REF", ""), env.get("GITHUB_REF_NAME", "")
    if env.get("GITHUB_REF_TYPE") == "tag" or ref.startswith("refs/tags/"):
        return "", name or ref.removeprefix("refs/tags/")
    if env.get("GITHUB_EVENT_NAME", "").startswith("pull_request"):
        return _pull_request_head(env) or name, ""
    if ref:
        return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else "", ""
    if name:
        return name, ""
    head = _git(repo, "rev-parse", "--abbrev-ref", "HEAD")  # outside GitHub: the checked-out branch
    return ("" if head == "HEAD" else head), ""


def from_env(repo: Path, env: Mapping[str, str] = os.environ) -> RunContext:
    branch, tag = branch_and_tag(repo, env)
    return RunContext(
        actor=env.get("GITHUB_ACTOR") or getpass.getuser(),
        repository=env.get("GITHUB_REPOSITORY", ""),
        sha=env.get("GITHUB_SHA") or _git(repo, "rev-parse", "HEAD"),
        branch=branch,
        tag=tag,
        event=env.get("GITHUB_EVENT_NAME", "cli"),
        run_id=env.get("GITHUB_RUN_ID", ""),
        run_attempt=env.get("GITHUB_RUN_ATTEMPT", ""),
        server_url=env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/"),
        api_url=env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"),
        repo_prefix=_git(repo, "rev-parse", "--show-prefix"),
    )
