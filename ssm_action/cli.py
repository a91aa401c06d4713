"""Entry point for the runner and for people: inputs from INPUT_* or --flags, then a mode.

Heavy libraries (boto3, requests) are imported only by the modes that need them,
so a bad input is reported at once and before any AWS or GitHub call.
"""

from __future__ import annotations

import argparse
import os
import signal
import traceback
from collections.abc import Sequence
from types import FrameType

from ssm_action import DOCS_URL, PROJECT_URL, config, context, runner, spec, summary
from ssm_action.contract import Action
from ssm_action.errors import ActionError, Cancelled
from ssm_action.workflow_commands import FileCommandError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ssm_action",
        description="Quality gates and verified deploys to EC2 through AWS SSM. Every input "
        "of action.yml is a flag of the same name; flags win over INPUT_* variables.",
    )
    for item in spec.load().inputs:
        default = "(the workflow's token)" if item.is_expression else repr(item.default)
        parser.add_argument(
            f"--{item.name}", dest=item.name, metavar="VALUE",
            help=f"{item.description} Default: {default}.".replace("%", "%%"),
        )
    return parser


def _mask_secrets(values: dict[str, str]) -> None:
    for name in config.SECRET_INPUTS:
        runner.mask(values.get(name, "").strip())


def report_config_errors(errors: Sequence[config.ConfigError]) -> None:
    for err in errors:
        got = f"got {err.value!r}; " if err.value else ""
        runner.error(f"{err.input}: {got}{err.message}", title="Invalid input")
    rows = [[summary.code(e.input), summary.code(e.value or "(empty)"), summary.escape(e.message)] for e in errors]
    runner.add_summary(
        summary.headline(":x:", f"ssm-deploy-action: {len(errors)} invalid input(s)")
        + "\nNothing was run and nothing was sent to AWS or GitHub. How to fix each: "
        + summary.link("troubleshooting: invalid input", f"{DOCS_URL}/troubleshooting.md#invalid-input") + "\n\n"
        + summary.table(("input", "value", "problem"), rows)
    )
    runner.set_output("result", "failure")


def _agent_check(cfg: config.DeployConfig) -> list[tuple[str, str]]:
    """The deploy agent's checks of the inputs, handed to config (which sits below deploy); deploy's modules
    load only when the mode deploys."""
    from ssm_action.deploy import plan

    return plan.input_errors(cfg)


def _fail(exc: ActionError) -> int:
    """The one way a run stops on a fatal error: one ::error, its summary section, result failure."""
    runner.error(f"{exc.message} See {exc.doc_url}", title=exc.title)
    runner.add_summary(summary.fatal(exc))
    runner.set_output("result", "failure")
    return 1


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Cancelled(f"signal {signum}: the workflow was cancelled")


def run_modes(cfg: config.Config) -> bool:
    """Gates, deploy, or both (the deploy only when every blocking gate passed)."""
    ctx = None
    if cfg.deploys:
        from ssm_action.deploy import trust

        ctx = context.from_env(cfg.deploy.working_directory)
        if cfg.deploy.agent_action is not Action.STATUS:  # before the gates: an untrusted event's code never runs here
            trust.check(cfg.deploy, ctx)
    gates_ok = True
    if cfg.runs_gates:
        from ssm_action import gates

        gates_ok = gates.run(cfg.gates)
    deploy_ok = True
    if ctx is not None:
        from ssm_action.deploy import run

        deploy_ok = run.run(cfg.deploy, ctx, gates_ok=gates_ok)
    ok = gates_ok and deploy_ok
    runner.set_output("result", "success" if ok else "failure")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    code = _main(argv)
    return 1 if runner.file_errors() else code  # an output or summary lost is never green


def _main(argv: Sequence[str] | None) -> int:
    raw = config.raw_inputs(os.environ)
    _mask_secrets(raw)  # first thing: nothing may print a secret before this
    overrides = {k: v for k, v in vars(build_parser().parse_args(argv)).items() if v is not None}
    _mask_secrets(overrides)
    raw.update(overrides)
    runner.save_state("started", "true")  # tells the post step that this runner passes state
    try:
        # inside the try: a value the checks missed is still one ::error, no traceback
        cfg, errors = config.parse(raw, agent_check=_agent_check)
        if cfg is None:
            report_config_errors(errors)
            return 1
        if not runner.check_files():  # before any work, not after a deploy whose result it would lose
            return 1
        # A cancelled workflow stops the container: docker forwards SIGINT, then SIGTERM.
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        return 0 if run_modes(cfg) else 1
    except ActionError as exc:
        return _fail(exc)
    except Cancelled as exc:
        return _fail(ActionError("Cancelled", f"Stopped: {exc}.", anchor="cancelled-runs-and-the-post-step"))
    except FileCommandError as exc:  # a runner file written outside runner's guard: not a bug of ours
        runner.report_file_error(exc)
        return 1
    except Exception as exc:  # a bug: say so, with what to send us
        runner.log(traceback.format_exc())
        return _fail(ActionError("Internal error", f"Unexpected {type(exc).__name__}: {exc}. This is a bug in "
                                 f"ssm-deploy-action; please report it with this log at {PROJECT_URL}/issues.",
                                 anchor="internal-error"))
    finally:
        runner.flush()
