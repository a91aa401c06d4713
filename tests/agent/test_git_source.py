"""The git source's steps, in order: the venv rebuilt only when the Windows install deferred it, decided
after the stop. The git deploy end to end (real clones, venvs, processes) is in test_agent_deploy.py."""

from __future__ import annotations

from types import SimpleNamespace

from ssm_action.agent.git_source import STEPS
from ssm_action.agent.git_source import GitSource


class PipelineStandIn(SimpleNamespace):
    """Stands in for deploy.Deploy (pipeline.Pipeline): the stop decides whether the venv was deferred, as
    venv.Environment does on Windows."""


def pipeline(defer_at_stop: bool) -> PipelineStandIn:
    env = SimpleNamespace(deferred=None, deps=lambda: "deps", rebuild=lambda: "venv")

    def stop() -> str:
        env.deferred = "requirements.txt" if defer_at_stop else None
        return "stop"

    app = SimpleNamespace(read_secrets=lambda: "secrets", hooks=lambda hook, sha: hook, stop=stop,
                          start=lambda sha: "start", verify_started=lambda: "verify")
    return PipelineStandIn(p=SimpleNamespace(sha="a" * 40), app=app, env=env, record=lambda: "record")


def run(source: GitSource) -> list[str]:
    """The names of the steps, running only the stop (the others' work is the git deploy's, tested end to end)."""
    return [name for name, action in source.steps() if name != "stop" or action()]


def test_the_steps_of_a_git_deploy_in_order():
    assert run(GitSource(pipeline(defer_at_stop=False))) == list(STEPS[1:])


def test_the_venv_is_rebuilt_after_the_stop_when_its_install_was_deferred():
    steps = run(GitSource(pipeline(defer_at_stop=True)))
    assert steps[steps.index("stop") + 1] == "venv" and steps[-3:] == ["start", "verify", "post-start"]
