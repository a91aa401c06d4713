"""Deploy orchestration: the plan (the agent's parameters) and the report built from a transport's outcome."""

import os
import subprocess

import pytest

from ssm_action import context, runner
from ssm_action.contract import AgentResult
from ssm_action.deploy import plan, report
from ssm_action.deploy.model import DeployOutcome, InstanceResult
from ssm_action.errors import ActionError
from tests import factories


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "services" / "api").mkdir(parents=True)
    (tmp_path / "services" / "api" / "requirements.txt").write_text("")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x")
    return tmp_path


def make(repo, **inputs):
    cfg = factories.make(repo, **inputs).deploy
    return cfg, context.from_env(cfg.working_directory, {})


def test_requirements_follow_working_directory_into_the_servers_clone(repo):
    cfg, ctx = make(repo, mode="deploy", transport="local", app_directory="srv/app",
                    working_directory="services/api")
    params = plan.build(cfg, ctx, "production").params.to_json()
    assert params["requirements_file"] == "services/api/requirements.txt"
    assert params["sha"] == ctx.sha and len(ctx.sha) == 40
    assert os.path.isabs(params["app_dir"]) and params["app_dir"].endswith("/srv/app")


def test_ssm_params_keep_the_server_paths_as_given(repo):
    cfg, ctx = make(repo, mode="deploy", instance_ids="i-0123456789abcdef0", app_directory="C:\\apps\\web",
                    aws_region="us-east-1", platform="windows")
    params = plan.build(cfg, ctx, "production").params.to_json()
    assert params["app_dir"] == "C:\\apps\\web" and params["platform"] == "windows"
    assert params["requirements_file"] == "requirements.txt"


def test_no_commit_is_a_clear_error(tmp_path):
    cfg, _ = make(tmp_path, mode="deploy", transport="local", app_directory="x")
    ctx = context.from_env(tmp_path, {})
    with pytest.raises(ActionError, match="not a 40-character SHA"):
        plan.build(cfg, ctx, "production")


def result(iid, ok, health="healthy", rolled_back=False, previous="a" * 40):
    agent = {"status": "success" if ok else ("rolled_back" if rolled_back else "failed"), "health": health,
             "rolled_back": rolled_back, "previous_sha": previous, "backup_path": f"/b/{iid}.zip",
             "error": None if ok else "health check failed: 500"}
    return InstanceResult(iid, "Success" if ok else "Failed", 3.0, AgentResult(**agent))


def test_report_of_a_partial_failure(repo, capsys):
    runner.reset()
    _, ctx = make(repo)
    outcome = DeployOutcome("ssm", [result("i-1", True), result("i-2", False, "unhealthy", True)], command_id="c-1")
    report.report(outcome, ctx, "production")
    out = runner.outputs()
    assert out["deployed-sha"] == "" and out["rolled-back"] == "true" and out["health-status"] == "unhealthy"
    assert out["previous-sha"] == "a" * 40
    assert out["backup-path"] == "i-1=/b/i-1.zip, i-2=/b/i-2.zip"
    assert "i-2: health check failed: 500 The previous version was put back." in capsys.readouterr().out
    runner.reset()


def test_an_agents_warning_is_a_warning_annotation_and_in_the_summary(repo, capsys):
    runner.reset()
    _, ctx = make(repo)
    warned = result("i-1", True)
    warned = InstanceResult("i-1", "Success", 3.0, AgentResult(**{**warned.agent.to_dict(), "warnings": [
        "the SSM Agent's job object refused breakaway: use app-host: service | to keep it"]}))
    outcome = DeployOutcome("ssm", [warned, result("i-2", True)], command_id="c-1")
    report.report(outcome, ctx, "production")
    out = capsys.readouterr().out
    assert "Deploy warning on i-1" in out and "i-1: the SSM Agent's job object refused breakaway" in out
    markdown = report.summary_markdown(outcome, ctx, "production")
    assert "**Warnings:**\n\n- `i-1`: the SSM Agent's job object refused breakaway: use app-host: service" in markdown
    assert "&#124; to keep it" in markdown or "\\| to keep it" in markdown  # escaped: the table is not broken
    assert "i-2" not in markdown.split("**Warnings:**")[1]
    runner.reset()
