"""Quality gates mode: tests, pip-audit, safety, bandit, flake8, ruff, pylint, smoke, env
and deps on the project at working-directory, concurrently, each in its log group.

Only the standard library is imported here and below: the tools run as processes.
"""

from __future__ import annotations

from ssm_action import runner
from ssm_action.config import GatesConfig as Config  # the gates see only their section


def run(cfg: Config) -> bool:
    """Run the selected gates and report them; True when every blocking gate passed."""
    from ssm_action.gates import report, schedule

    runner.log(f"Quality gates on {cfg.working_directory}: {', '.join(cfg.gates)} "
               f"(up to {schedule.cpu_count()} at once)")
    done = schedule.run_gates(cfg, on_env=report.show_env, on_result=report.show_result,
                              on_heartbeat=report.show_heartbeat)
    return report.publish(cfg, done)
