"""The bootstrap script: valid syntax, no input ever in its text, an exact round trip of what it
carries (the agent zipapp, byte for byte), the unpack stub both scripts write, run with this Python
(the real Windows CPython runs it in tests/windows/test_windows_unpack.py), and (Linux, which runs
here) a real run of the real agent through it, and of its stub on a Python without lzma."""

from __future__ import annotations

import base64
import json
import lzma
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell

from ssm_action import payload as agent_zipapp
from ssm_action.transports.ssm import bootstrap
from tests.ssm.agent_runs import run_script
from tests.doc_messages import TROUBLESHOOTING
from tests.ssm.conftest import SHA
from tests.ssm.unpack_stub import lay_out, written_files

AGENT = agent_zipapp.build()
HOSTILE = ["'", '"', "`", "$(rm -rf /)", "`reboot`", "a\nb", "x\r\ny", "; rm -rf / #", "${env:PATH}", "@(1)",
           "'; Remove-Item C:\\ -Recurse -Force; '", "\u2019\u201c", "%COMSPEC%", "&& calc", "| Out-Null",
           "\\'", "$null", "#>", "<#", "\x00", "@AGENT_B64@", "@UNPACK_B64@", "-EncodedCommand AAAA"]
DANGEROUS_CHARS = "'\"`$();|&<>#@{}[]\\\n\r\t %!^*?~=+,:"


def params(value: str = "plain") -> dict:
    return {"deploy_id": "4242-1", "app_dir": f"C:\\apps\\{value}", "git_remote": value, "branch": value,
            "sha": SHA, "venv_dir": value, "requirements_file": value, "entry": value, "python": "",
            "health_url": value, "health_timeout": 60, "backup_dir": value, "backup_retention": 5,
            "rollback_on_failure": True, "platform": "windows", "installer": "auto", "hooks_dir": value}


def powershell_errors(text: str) -> list[str]:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    found, stack = [], [parser.parse(text.encode()).root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            found.append(f"{node.type} at {node.start_point}: {node.text[:60]!r}")
        stack.extend(node.children)
    return found


def real_script(platform: str, value: str = "plain", python: str = "python") -> str:
    return bootstrap.script(platform, bootstrap.payload(AGENT, params(value), python))


def test_powershell_bootstrap_parses_without_errors():
    assert powershell_errors(real_script("windows")) == []


def test_the_powershell_check_does_catch_broken_syntax():
    broken = real_script("windows").replace("} finally {", "} finally ", 1)
    assert powershell_errors(broken)


def test_shell_bootstrap_passes_shellcheck_as_posix_sh(tmp_path):
    path = tmp_path / "_script.sh"
    path.write_text(real_script("linux"))
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or "shellcheck"
    done = subprocess.run([shellcheck, "--shell=sh", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def slot_values(platform: str, text: str) -> tuple[str, ...] | None:
    """The slots' contents when ``text`` is exactly the template with base64 in its slots, else None."""
    pattern = re.escape(bootstrap.TEMPLATES[platform])
    for slot in bootstrap.SLOTS:
        pattern = pattern.replace(re.escape(slot), "([A-Za-z0-9+/=]+)")
    match = re.fullmatch(pattern, text)
    return match.groups() if match else None


def random_hostile(rng: random.Random) -> str:
    return "".join(rng.choice(DANGEROUS_CHARS + "abc") for _ in range(rng.randint(1, 40)))


@pytest.mark.parametrize("platform", ["windows", "linux"])
def test_no_input_value_ever_reaches_the_script_text(platform):
    rng = random.Random(5)  # fixed seed: the same 200 cases every run
    for value in HOSTILE + [random_hostile(rng) for _ in range(200)]:
        text = real_script(platform, value, python=value)
        assert slot_values(platform, text), value  # the fixed template; only base64 in its slots
    for value in HOSTILE:
        if value not in bootstrap.TEMPLATES[platform]:
            assert value not in real_script(platform, value, python=value), value


@pytest.mark.parametrize("platform", ["windows", "linux"])
def test_agent_params_and_python_round_trip_through_base64(platform):
    sent = params("it's \"quoted\" $(x) `y`\n")
    python = "C:\\Program Files\\Python 3.12\\python.exe"
    text = bootstrap.script(platform, bootstrap.payload(AGENT, sent, python))
    agent_b64, params_b64, python_b64 = slot_values(platform, text)
    assert lzma.decompress(base64.b64decode(agent_b64)) == AGENT.data
    assert json.loads(base64.b64decode(params_b64)) == sent
    assert base64.b64decode(python_b64).decode() == python


def test_the_same_input_gives_the_same_script():
    assert real_script("windows") == real_script("windows")  # a deterministic zipapp: reviewable diffs


@pytest.mark.parametrize("platform", ["windows", "linux"])
def test_the_review_shows_what_the_literals_hold(platform):
    data = bootstrap.payload(AGENT, params(), "python")
    text = bootstrap.review(platform, data)
    assert f"sha256 {data.agent_sha256}, xz+base64>" in text and f'"sha": "{SHA}"' in text
    assert data.agent_sha256 == AGENT.sha256 and AGENT.filename in text
    assert data.agent_b64 not in text and bootstrap.UNPACK_B64 not in text
    assert "<unpack.py below, base64>" in text and bootstrap.UNPACK.rstrip() in text  # the stub, readable


def test_linux_bootstrap_runs_the_real_agent_and_passes_its_exit_code_on(agent_runs):
    codes = {name: (run.code, run.result.status) for name, run in agent_runs.items()}
    assert codes == {"success": (0, "success"), "rolled_back": (2, "rolled_back"), "failed": (1, "failed"),
                     "status": (0, "success"), "rollback": (0, "success")}
    assert agent_runs["success"].stdout.rstrip().splitlines()[-1].startswith("SSM_DEPLOY_RESULT {")


def test_linux_bootstrap_cleans_up_and_passes_bad_params_on(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)}
    data = bootstrap.payload(AGENT, {"deploy_id": "1-1"}, sys.executable)
    run = run_script(bootstrap.script("linux", data), tmp_path, env)
    assert (run.code, run.result.status) == (4, "invalid")
    assert [p.name for p in tmp_path.iterdir()] == ["_script.sh"]  # its work folder is gone


def test_linux_bootstrap_with_a_missing_python_fails_clearly(tmp_path):
    data = bootstrap.payload(AGENT, params(), "/opt/no-such/python3")
    run = run_script(bootstrap.script("linux", data), tmp_path, {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)})
    assert run.code == 127 and "/opt/no-such/python3" in run.stderr and run.result is None


NO_LZMA = ("has no lzma module, which unpacks the deploy agent: set server-python to a Python built with lzma "
           "(python.org and Linux distribution builds are)")


def test_linux_bootstrap_unpacks_with_the_stub_and_stops_if_this_python_has_no_lzma(tmp_path):
    """The real script on a Python built without liblzma (stand-in: a _lzma that fails to import, as the
    missing extension does): the stub's exit 9 and message are passed on, and the agent never runs."""
    shadow = tmp_path / "no-lzma"
    shadow.mkdir()
    (shadow / "_lzma.py").write_text("raise ModuleNotFoundError(\"No module named '_lzma'\", name='_lzma')\n")
    calls = tmp_path / "calls.log"
    python = tmp_path / "python-without-lzma"  # logs each script it is asked to run
    python.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{calls}'\n"
                      f"PYTHONPATH='{shadow}' exec '{sys.executable}' \"$@\"\n")
    python.chmod(0o700)
    work = tmp_path / "tmp"
    work.mkdir()
    data = bootstrap.payload(AGENT, params(), str(python))
    run = run_script(bootstrap.script("linux", data), work, {"PATH": "/usr/bin:/bin", "TMPDIR": str(work)})
    assert (run.code, run.stdout, run.result) == (bootstrap.NO_LZMA_EXIT, "", None)
    assert run.stderr == f"ssm-deploy bootstrap: {sys.executable} {NO_LZMA}\n"
    assert [Path(line).name for line in calls.read_text().splitlines()] == ["unpack.py"]  # not agent.pyz
    assert [p.name for p in work.iterdir()] == ["_script.sh"]  # its work folder is gone


# -- the unpack stub both bootstraps write (their xz blob and stub taken from the real script)

def test_both_bootstraps_write_the_same_stub_and_agent():
    linux, windows = written_files(real_script("linux")), written_files(real_script("windows"))
    assert linux["unpack.py"] == windows["unpack.py"] == bootstrap.UNPACK.encode()
    assert linux["agent.in"] == windows["agent.in"] and set(linux) == set(windows)


@pytest.mark.parametrize("platform", ["windows", "linux"])
def test_the_stub_unpacks_the_agent_the_script_carries(tmp_path, platform):
    laid = lay_out(real_script(platform), tmp_path / "a temp folder")  # spaces, as under C:\Users\
    done = subprocess.run([sys.executable, *map(str, laid)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert laid.agent.read_bytes() == AGENT.data


def test_the_stub_without_lzma_says_so_and_exits_with_its_own_code(tmp_path):
    laid = lay_out(real_script("windows"), tmp_path / "work")
    # a Python built without lzma: the import fails as it would there (ImportError)
    shim = "import runpy, sys; sys.modules['lzma'] = None; runpy.run_path(sys.argv.pop(1), run_name='__main__')"
    done = subprocess.run([sys.executable, "-c", shim, *map(str, laid)], capture_output=True, text=True, timeout=60)
    assert done.returncode == bootstrap.NO_LZMA_EXIT == 9 and done.stdout == ""
    assert done.stderr == f"ssm-deploy bootstrap: {sys.executable} {NO_LZMA}\n"
    assert not laid.agent.exists()
    assert NO_LZMA in TROUBLESHOOTING.read_text().replace("`", "")
