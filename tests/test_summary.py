"""The summary module's one escaping rule, and the summaries the action writes: every table stays
intact whatever an input holds, and a fatal error leaves a section with its fix and a working link."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator

import pytest

from ssm_action import cli, runner, spec, summary, transports
from ssm_action.contract import AgentResult
from ssm_action.deploy.model import DeployOutcome, InstanceResult
from ssm_action.errors import ActionError
from tests.conftest import ROOT, RunnerFiles
from tests.deployments.stand_ins import StandInTransport
from tests.test_docs import anchors

HOSTILE = "a|b `c` <b>d</b> \\| e"
FENCE = re.compile(r"^(`{3,}).*?^\1", re.S | re.M)
DEPLOY = {"mode": "deploy", "transport": "ssm", "instance-ids": "i-0123456789abcdef0,i-0123456789abcdef1",
          "app-directory": "C:\\apps\\web", "aws-region": "us-east-1", "create-deployment": "false"}


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table outside code blocks, as rows of cells (split as GitHub does, at unescaped pipes)."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in FENCE.sub("", markdown).splitlines() + [""]:
        if line.startswith("|"):
            current.append(re.split(r"(?<!\\)\|", line.strip())[1:-1])
        elif current:
            found.append(current)
            current = []
    return found


def assert_intact(markdown: str) -> None:
    found = tables(markdown)
    for table in found:
        assert len({len(row) for row in table}) == 1, table
        assert all(set(cell) <= set("-") for cell in table[1]), table  # the delimiter row is the second
    outside_code = FENCE.sub("", markdown)
    assert HOSTILE not in outside_code and "<b>" not in outside_code


# ---------------------------------------------------------------- the rule

def test_escape_makes_structure_characters_references():
    assert summary.escape(HOSTILE) == "a&#124;b &#96;c&#96; &lt;b&gt;d&lt;/b&gt; &#92;&#124; e"
    assert summary.escape("two\n lines\t here") == "two lines here"


def test_code_is_a_code_span_unless_the_value_could_break_it():
    assert summary.code("i-0abc") == "`i-0abc`"
    assert summary.code("C:\\apps\\<web>") == "`C:\\apps\\<web>`"  # a code span shows these as typed
    assert summary.code("a|b") == "<code>a&#124;b</code>" and summary.code("x`y") == "<code>x&#96;y</code>"
    assert summary.code("") == "-" and summary.cell("") == "-"


def test_a_table_of_hostile_cells_stays_a_table():
    text = summary.table(("a", "b"), [[summary.cell(HOSTILE), summary.code(HOSTILE)]] * 3)
    assert_intact(text)
    assert [len(row) for row in tables(text)[0]] == [2] * 5


def test_a_fence_no_line_can_close():
    block = summary.fenced("before\n````\nafter")
    assert block.startswith("`````\n") and block.endswith("\n`````\n")


def test_link_and_details():
    assert summary.link("a|b", "https://x/y z") == "[a&#124;b](https://x/y%20z)"
    assert summary.details("s", "body\n") == "<details><summary>s</summary>\n\nbody\n\n</details>\n"


# ---------------------------------------------------------------- the action's summaries

@pytest.fixture
def main_in_process(runner_files: RunnerFiles, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """cli.main() in this process with the runner's environment and the given inputs; returns the summary."""
    for key in [k for k in os.environ if k.startswith(("INPUT_", "GITHUB_", "AWS_"))]:
        monkeypatch.delenv(key)
    for key, value in runner_files.env.items():
        monkeypatch.setenv(key, value)

    def run(inputs: dict[str, str], **env: str) -> str:
        runner.reset()
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        with monkeypatch.context() as scoped:
            for name, value in inputs.items():
                scoped.setenv(f"INPUT_{name.upper()}", value)
            cli.main([])
        return runner_files.summary.read_text(encoding="utf-8")

    yield run
    runner.reset()


def hostile_outcome(_: object) -> DeployOutcome:
    bad = AgentResult(status="failed", error=HOSTILE, health="unhealthy", backup_path=HOSTILE)
    return DeployOutcome("ssm", [InstanceResult("i-0123456789abcdef0", "Success", 1.0, AgentResult(status="success")),
                                 InstanceResult("i-0123456789abcdef1", HOSTILE, 2.0, bad, log_url=HOSTILE)],
                         command_id=HOSTILE)


@pytest.fixture
def hostile_transport() -> Iterator[None]:
    transports.register("ssm", lambda: StandInTransport(hostile_outcome))
    yield
    transports.unregister("ssm")


@pytest.mark.parametrize("name", [item.name for item in spec.load().inputs])
def test_a_hostile_value_in_any_input_keeps_every_table_intact(main_in_process, hostile_transport, name):
    text = main_in_process({**DEPLOY, name: HOSTILE})
    assert tables(text), text
    assert_intact(text)


def test_a_hostile_branch_and_actor_keep_the_audit_table_intact(main_in_process, hostile_transport):
    text = main_in_process({**DEPLOY, "environment": "production"}, GITHUB_REF_NAME=HOSTILE, GITHUB_ACTOR=HOSTILE)
    assert "Invalid deploy parameters" in text and "| who |" in text
    assert_intact(text)


# ---------------------------------------------------------------- a fatal error

def fatal_links(text: str) -> list[str]:
    return re.findall(r"\]\(https://[^)]*/docs/troubleshooting\.md#([\w-]+)\)", text)


@pytest.mark.parametrize("inputs,env,title,fix", [
    ({**DEPLOY, "environment-map": "dev=development"}, {}, "No environment for this branch",
     "Add it, e.g. environment-map: 'release=staging', or set environment: explicitly."),
    ({**DEPLOY, "transport": "local", "app-directory": "srv/app"}, {"GITHUB_SHA": "not-a-commit"},
     "No commit to deploy", "In a workflow GITHUB_SHA gives it"),
])
def test_a_fatal_error_writes_what_why_the_fix_and_a_working_link(main_in_process, inputs, env, title, fix):
    text = main_in_process(inputs, **env)
    section = text[text.index(f"## :x: {title}"):]
    assert "**What happened:**" in section and "**Why, and how to fix it:**" in section
    assert fix in section
    [anchor] = fatal_links(section)
    assert anchor in anchors(ROOT / "docs" / "troubleshooting.md")


def test_every_fatal_section_links_its_own_anchor():
    error = ActionError("T", "M: do X.", anchor="ssm-pre-flight")
    assert fatal_links(summary.fatal(error)) == ["ssm-pre-flight"]


def test_a_fatal_errors_details_close_its_section():
    table = summary.table(("instance", "problem"), [["`i-1`", "offline"]])
    section = summary.fatal(ActionError("Pre-flight failed", "Nothing was sent.", "ssm-pre-flight", details=table))
    assert section.endswith("\n" + table) and section.count("## ") == 1
    assert "offline" not in summary.fatal(ActionError("Pre-flight failed", "Nothing was sent.", "ssm-pre-flight"))
