"""The one deploy pipeline's interface to its sources: what a source (git or artifact) uses of the
deploy that runs it, and what the deploy asks of a source.

``deploy.Deploy`` is the pipeline: the lock, the journal, each step's line, the outcome and
the restart of the version put back. A source (``git_source.GitSource``,
``delivery.ArtifactSource``) brings the version: its steps, what success records, and how a
failure after the tree changed puts the previous version back. Sources see the pipeline only
through ``Pipeline``, so neither imports the other.
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional, Protocol, Tuple

from ssm_action.agent.app import App
from ssm_action.agent.files import StateDir
from ssm_action.agent.git import Git
from ssm_action.agent.host import Platform
from ssm_action.agent.journal import DeployState, Journal
from ssm_action.agent.layout import Layout
from ssm_action.agent.output import Reporter
from ssm_action.agent.venv import Environment
from ssm_action.contract.params import AgentParams
from ssm_action.contract.result import ExitCode

Step = Tuple[str, Callable[[], str]]  # its name, and the action that returns its line's detail


class Pipeline(Protocol):
    p: AgentParams
    plat: Platform
    rep: Reporter
    where: Layout
    records: StateDir
    state: DeployState
    journal: Journal
    git: Git
    env: Environment
    app: App

    def step(self, name: str, action: Callable[[], str]) -> None:
        """Run one step: journal its phase, time it, print its line."""

    def record(self) -> str:
        """Note what runs now and what a rollback would put back."""

    def finish(self, status: str, code: ExitCode, error: Optional[str] = None) -> int:
        """The outcome: records kept, the result line printed; the exit code."""

    def restart(self, previous: str) -> None:
        """Start the version put back as it was started, and verify it."""


class Source(Protocol):
    def steps(self) -> Iterable[Step]:
        """The steps in order (read lazily: a step may decide the next)."""

    def succeeded(self) -> None:
        """Record the version as good."""

    def fail(self, step: str, error: str) -> int:
        """A step failed: put the previous version back when the tree changed; the exit code."""
