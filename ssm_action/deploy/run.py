"""Deploy mode (and rollback, status): route, plan, run the transport, report; tracked from first step to last.

A rollback is tracked like a deploy (a GitHub deployment, an audit record); a
status run changes nothing, so it records nothing and needs no route.
"""

from __future__ import annotations

from ssm_action import runner, summary, transports
from ssm_action.config.sections import DeployConfig
from ssm_action.context import RunContext
from ssm_action.contract import Action
from ssm_action.deploy import plan, report, routing, shipping, status, tracking, trust


def run(cfg: DeployConfig, ctx: RunContext, gates_ok: bool = True) -> bool:
    if cfg.agent_action is Action.STATUS:
        return status.run(cfg, ctx)
    trust.check(cfg, ctx)  # before any AWS or GitHub call
    environment = routing.environment_for(cfg, ctx)
    runner.set_output("environment", environment)
    what = cfg.agent_action.noun
    # However this ends (even cancelled), the GitHub deployment gets a final status and the audit record is kept.
    with tracking.track(cfg, ctx, environment) as track:
        if not gates_ok:
            runner.error("A blocking gate failed, so nothing was deployed. Fix the gates above and push again.",
                         title=f"{what} skipped")
            runner.add_summary(summary.headline(":no_entry:", f"{what} to {summary.escape(environment)} skipped")
                               + "\nA blocking gate failed.\n")
            track.skip("a blocking gate failed")
            return False
        the_plan = plan.build(cfg, ctx, environment)
        if cfg.delivery.artifact and cfg.agent_action is Action.ROLLBACK:
            runner.log("mode rollback: no artifact packed (each server switches back to a release it keeps)")
        elif cfg.delivery.artifact:  # packed and stored before anything is sent
            the_plan = shipping.ship(the_plan, cfg)
        track.planned(the_plan)
        doing = cfg.agent_action.doing.replace("%s", f"{ctx.sha[:12]} ({ctx.ref_label})")
        runner.log(f"{doing} {environment} via {cfg.transport}; agent zipapp sha256 {the_plan.payload.sha256}")
        outcome = track.done(transports.get(cfg.transport).run(the_plan))
        report.report(outcome, ctx, environment)
        return outcome.ok
