"""Runner I/O: what lands in GITHUB_OUTPUT, the step summary and the job log."""

import pytest

from ssm_action import runner

from tests.runner_files import annotations, read_file_commands


@pytest.fixture
def github(tmp_path, monkeypatch):
    runner.reset()
    files = {name: tmp_path / name for name in ("output", "summary")}
    for path in files.values():
        path.touch()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(files["output"]))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(files["summary"]))
    yield files
    runner.reset()


def test_outputs_keep_multiline_values_and_hostile_text(github):
    value = "line one\nname<<EOF\nEOF\n%0A::error::x"
    runner.set_output("gates-json", value)
    runner.set_output("result", "success")
    assert read_file_commands(github["output"]) == {"gates-json": value, "result": "success"}


def test_undeclared_output_is_a_bug(github):
    with pytest.raises(KeyError):
        runner.set_output("reslut", "x")


def test_annotations_are_escaped(github, capsys):
    runner.error("100% broken\nsecond line", title="a: b, c", file="src/app.py", line=3)
    out = capsys.readouterr().out
    assert out.startswith("::error title=a%3A b%2C c,file=src/app.py,line=3::")
    assert annotations(out) == ["100% broken\nsecond line"]


def test_masks_come_first_and_redact_everything_after(github, capsys):
    runner.mask("s3cr3t-value")
    runner.log("token is s3cr3t-value")
    runner.set_output("log-url", "https://x/s3cr3t-value")
    runner.add_summary("has s3cr3t-value")
    runner.flush()
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "::add-mask ::s3cr3t-value"
    assert "s3cr3t-value" not in "".join(out.splitlines()[1:])
    assert "s3cr3t-value" not in github["summary"].read_text()
    assert "s3cr3t-value" not in github["output"].read_text()


def test_summary_is_cut_under_one_mebibyte_with_a_note(github):
    github["summary"].write_text("earlier step\n")
    runner.add_summary("\n".join(f"| row {i} | {'x' * 90} |" for i in range(20000)))
    runner.flush()
    data = github["summary"].read_bytes()
    assert len(data) <= runner.SUMMARY_LIMIT
    assert data.startswith(b"earlier step\n")
    assert b"Summary cut" in data and b"bytes were left out" in data


def test_small_summary_is_written_whole(github):
    runner.add_summary("## hello")
    runner.flush()
    assert github["summary"].read_text() == "## hello\n"


def test_groups_are_collapsible_and_closed_on_error(github, capsys):
    with pytest.raises(ValueError):
        with runner.group("tests"):
            raise ValueError
    assert capsys.readouterr().out.splitlines() == ["::group ::tests", "::endgroup::"]


def test_terminal_prints_readable_text(monkeypatch, capsys):
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    runner.reset()
    runner.mask("hidden")
    runner.warning("careful", file="a.py", line=2)
    runner.set_output("result", "success")
    runner.set_output("gates-json", '[\n  {"name": "hidden"}\n]')
    runner.add_summary("## Gates")
    runner.flush()
    out = capsys.readouterr().out
    assert "::" not in out and "hidden" not in out
    assert "Warning: careful (a.py:2)" in out
    assert "== Summary\n## Gates" in out
    assert "result     = success" in out
    runner.reset()
