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
    assert out.splitlines()[0] == "::add-mask::s3cr3t-value"
    assert "s3cr3t-value" not in "".join(out.splitlines()[1:])
    assert "s3cr3t-value" not in github["summary"].read_text()
    assert "s3cr3t-value" not in github["output"].read_text()


def test_command_bytes_are_those_of_actions_core(github, capsysbinary):
    """act's parser (`^::([^ ]+)( (.+))?::`) needs these exact forms; GitHub's runner accepts them too."""
    runner.mask("to%k\nen")
    with runner.group("gates: 100%, done"):
        runner.debug("d: 1\r\n")
    runner.warning("w, x: y")
    runner.notice("n", title="T", file="a,b.py", line=7, col=2)
    assert capsysbinary.readouterr().out == (
        b"::add-mask::to%25k%0Aen\n"
        b"::group::gates: 100%25, done\n"
        b"::debug::d: 1%0D%0A\n"
        b"::endgroup::\n"
        b"::warning::w, x: y\n"
        b"::notice title=T,file=a%2Cb.py,line=7,col=2::n\n"
    )


def test_file_commands_are_heredocs_with_a_random_delimiter(github):
    runner.set_output("result", "success")
    runner.set_output("result", "x")
    first, second = github["output"].read_text().split("\n")[0::3][:2]
    assert first.startswith("result<<ghadelimiter_") and second.startswith("result<<ghadelimiter_")
    assert first != second


def test_an_unwritable_runner_file_is_one_error_and_a_failure(github, tmp_path, capsys, monkeypatch):
    missing = tmp_path / "no-such-dir" / "summary"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(missing))
    assert runner.check_files() is False
    runner.add_summary("## lost")
    runner.flush()
    runner.set_output("result", "failure")
    out = capsys.readouterr().out
    assert annotations(out) == [f"GITHUB_STEP_SUMMARY: cannot write {missing} (No such file or directory). "
                                "The runner creates this file for every step: check the job's container "
                                "options and volumes, and the disk space of the runner."]
    assert runner.file_errors() and read_file_commands(github["output"]) == {"result": "failure"}


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
    assert capsys.readouterr().out == "::group::tests\n::endgroup::\n"


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


@pytest.mark.parametrize("variable", ["GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"])
def test_the_entrypoint_names_an_unwritable_runner_file_once(runner_files, tmp_path, variable):
    runner_files.env[variable] = str(tmp_path)  # a directory: open() fails with IsADirectoryError
    done = runner_files.run({"mode": "gates", "gates": "deps"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert annotations(done.stdout) == [
        f"{variable}: cannot write {tmp_path} (Is a directory). The runner creates this file for every step: "
        "check the job's container options and volumes, and the disk space of the runner."]
    assert "Traceback" not in done.stdout + done.stderr and "This is a bug" not in done.stdout
    assert "deps" not in done.stdout  # nothing ran
