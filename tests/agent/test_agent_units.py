"""The agent's pure parts: contract constants, parameters, redaction, backups, output."""

from __future__ import annotations

import ast
import base64
import json
import re
import sys
import zipfile
from pathlib import Path

import pytest

from ssm_action import agent, contract
from tests.agent.agent_fixtures import parse_result_line

BASE = {"deploy_id": "1234567-1", "app_dir": "/srv/app", "sha": "a" * 40, "platform": "linux"}


def test_contract_constants_match_the_runner():
    assert agent.RESULT_PREFIX == contract.RESULT_PREFIX
    assert (agent.EXIT_OK, agent.EXIT_FAILED, agent.EXIT_ROLLED_BACK, agent.EXIT_BUSY,
            agent.EXIT_BAD_PARAMS) == tuple(contract.ExitCode)


def test_the_agent_imports_only_the_standard_library():
    tree = ast.parse(Path(agent.__file__).read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    assert modules - {"__future__"} <= set(sys.stdlib_module_names), modules


def test_defaults_are_filled():
    params = agent.validate(dict(BASE, sha="A" * 40), "linux")
    assert params["sha"] == "a" * 40
    assert (params["requirements_file"], params["entry"], params["installer"]) == (
        "requirements.txt", "app.py", "auto")
    assert (params["health_timeout"], params["backup_retention"], params["rollback"]) == (
        60, 5, True)
    assert (params["stop_timeout"], params["start_grace"], params["app_env"]) == (15, 2, {})
    assert set(params) == set(agent.PARAMS)


@pytest.mark.parametrize("change, message", [
    ({"surprise": 1}, "unknown parameter 'surprise'"),
    ({"sha": None}, "sha must be a string"),
    ({"health_timeout": True}, "health_timeout must be a number"),
    ({"backup_retention": 2.5}, "backup_retention must be an integer"),
    ({"rollback": "yes"}, "rollback must be true or false"),
    ({"sha": "abc123"}, "sha must be a full 40-hex commit id"),
    ({"deploy_id": "../x"}, "deploy_id must be"),
    ({"app_dir": "srv/app"}, "app_dir must be an absolute path"),
    ({"app_dir": "/"}, "app_dir must be an absolute path below a root"),
    ({"git_remote": "--upload-pack=evil"}, "git_remote must not start with '-'"),
    ({"branch": "-x"}, "branch is not a valid branch name"),
    ({"branch": "a..b"}, "branch is not a valid branch name"),
    ({"entry": "../evil.py"}, "entry must be relative to app_dir"),
    ({"requirements_file": "/etc/passwd"}, "requirements_file must be relative"),
    ({"hooks_dir": "C:\\hooks"}, "hooks_dir must be relative"),
    ({"venv_dir": "."}, "venv_dir must not be app_dir"),
    ({"venv_dir": "/srv"}, "venv_dir must not be app_dir or one of its parents"),
    ({"backup_dir": "backups"}, "backup_dir must be absolute"),
    ({"health_url": "ftp://x/"}, "health_url must be an http"),
    ({"health_timeout": 0}, "health_timeout must be > 0"),
    ({"backup_retention": 0}, "backup_retention must be >= 1"),
    ({"installer": "conda"}, "installer must be auto, pip or uv"),
    ({"platform": "windows"}, "platform is 'windows' but this server runs linux"),
    ({"platform": "mac"}, "platform must be windows or linux"),
    ({"app_env": {"A": 1}}, "app_env must map variable names to strings"),
    ({"app_env": {"A=B": "1"}}, "app_env must map variable names to strings"),
])
def test_invalid_parameters_are_named(change, message):
    with pytest.raises(agent.ParamError, match=re.escape(message)):
        agent.validate(dict(BASE, **change), "linux")


def test_missing_required_parameters():
    with pytest.raises(agent.ParamError) as caught:
        agent.validate({}, "linux")
    assert str(caught.value) == ("deploy_id is required; app_dir is required; sha is required; "
                                 "platform is required")


def test_params_b64_and_unreadable_input(tmp_path: Path):
    text = json.dumps(BASE).encode()
    encoded = base64.b64encode(text).decode()
    assert agent.load_params(["--params-b64", encoded], "linux")["app_dir"] == "/srv/app"
    with pytest.raises(agent.ParamError, match="cannot read the parameters"):
        agent.load_params(["--params-b64", "not base64!"], "linux")
    with pytest.raises(agent.ParamError, match="cannot read the parameters"):
        agent.load_params(["--params-file", str(tmp_path / "missing.json")], "linux")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(agent.ParamError, match="must be a JSON object"):
        agent.load_params(["--params-file", str(tmp_path / "list.json")], "linux")


def test_bad_command_line_exits_4_with_a_result_line(capsys: pytest.CaptureFixture):
    assert agent.main(["--params-file"]) == agent.EXIT_BAD_PARAMS
    result = parse_result_line(capsys.readouterr().out)
    assert result["status"] == "invalid" and result["error"].startswith("usage: agent.py")


def test_redactor_strips_url_credentials_and_secrets():
    redact = agent.Redactor(["hunter2-secret", "8080"])
    text = "fetch https://x-access-token:ghs_abc@github.com/o/r.git port 8080 pw hunter2-secret"
    assert redact(text) == "fetch https://***@github.com/o/r.git port 8080 pw ***"


def test_result_line_is_redacted_before_json_escaping(capsys: pytest.CaptureFixture):
    secret = 'pa"ss\u00e9word'
    agent.Reporter(agent.Redactor([secret])).result({"error": "bad " + secret, "n": [secret]})
    assert capsys.readouterr().out == agent.RESULT_PREFIX + '{"error":"bad ***","n":["***"]}\n'


def test_output_stays_within_the_ssm_budget(capsys: pytest.CaptureFixture):
    reporter = agent.Reporter(agent.Redactor())
    for _ in range(100):
        reporter.say("x" * 1000)
    reporter.result({"status": "failed"})
    out = capsys.readouterr().out
    assert len(out) < agent.STDOUT_BUDGET + 200
    assert out.splitlines()[-2] == "... (more in the log file)"
    assert out.splitlines()[-1] == agent.RESULT_PREFIX + '{"status":"failed"}'


def test_cap_list():
    assert agent.cap_list(["a", "b"], 2) == ["a", "b"]
    assert agent.cap_list(list("abcd"), 3) == ["a", "b", "... and 2 more (see the log file)"]


def make_tree(root: Path) -> None:
    files = {
        "app.py": "print('app')\n", "pkg/mod.py": "x = 1\n", "pkg/__pycache__/mod.pyc": "c",
        "stale.pyc": "c", ".git/HEAD": "ref", ".venv/pyvenv.cfg": "home", "env2/pyvenv.cfg": "h",
        "env2/lib/big.so": "b", "backups/old.zip": "z", "data/keep.db": "db",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_backup_leaves_out_git_venvs_and_caches(tmp_path: Path):
    app = tmp_path / "app"
    make_tree(app)
    dest = tmp_path / "b.zip"
    agent.make_backup(str(app), str(dest), {"head": "abc"}, skip=[str(app / "backups")])
    with zipfile.ZipFile(dest) as archive:
        assert sorted(archive.namelist()) == [agent.MANIFEST, "app.py", "data/keep.db",
                                              "pkg/mod.py"]
        assert json.loads(archive.read(agent.MANIFEST)) == {"head": "abc"}
    assert not (tmp_path / "b.zip.partial").exists()


def test_restore_some_or_all_files_from_a_backup(tmp_path: Path):
    app = tmp_path / "app"
    make_tree(app)
    dest = tmp_path / "b.zip"
    agent.make_backup(str(app), str(dest), {}, skip=[])
    (app / "app.py").write_text("changed\n")
    (app / "pkg" / "mod.py").write_text("changed\n")
    (app / "added.txt").write_text("new\n")
    assert agent.restore_from_backup(str(dest), str(app), ["app.py", "added.txt"]) == 2
    assert (app / "app.py").read_text() == "print('app')\n"
    assert not (app / "added.txt").exists()  # not in the backup: it did not exist then
    assert (app / "pkg" / "mod.py").read_text() == "changed\n"
    agent.restore_from_backup(str(dest), str(app))
    assert (app / "pkg" / "mod.py").read_text() == "x = 1\n"


def test_keep_newest(tmp_path: Path):
    names = [f"app-2024010{i}T000000Z-{i}-1.zip" for i in range(1, 6)]
    for name in names + ["other.zip"]:
        (tmp_path / name).write_text("z")
    pattern = r"app-\d{8}T\d{6}Z-.+\.zip"
    spare = str(tmp_path / names[0])
    removed = agent.keep_newest(str(tmp_path), pattern, 2, spare=[spare])
    assert sorted(Path(p).name for p in removed) == names[1:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names[0], *names[3:],
                                                                 "other.zip"])
