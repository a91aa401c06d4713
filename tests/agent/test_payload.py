"""The agent as it ships: one deterministic zipapp of exactly the agent's files, stdlib only,
readable with ``python -m zipfile``, and deploying for real under the oldest Python it claims."""

from __future__ import annotations

import ast
import io
import os
import shutil
import subprocess
import sys
import tokenize
import zipfile
from pathlib import Path

import pytest

from ssm_action import payload
from ssm_action.contract import AgentResult, ExitCode
from tests.agent.agent_fixtures import Server, agent_zipapp

PY38 = "/root/.pyenv/versions/3.8.18/bin/python"
PACKAGE = payload.PACKAGE_ROOT / "ssm_action"


def copy_tree(target: Path) -> Path:
    """The files the zipapp is built from, copied under ``target``."""
    shutil.copytree(PACKAGE / "agent", target / "ssm_action" / "agent",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PACKAGE / "contract", target / "ssm_action" / "contract",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_the_same_code_gives_the_same_bytes_anywhere_at_any_time(tmp_path: Path):
    first = payload.build_from(payload.PACKAGE_ROOT)
    assert payload.build_from(payload.PACKAGE_ROOT) == first == payload.build()
    copy = copy_tree(tmp_path / "copy")
    for path in copy.rglob("*.py"):
        os.utime(path, (1_000_000_000, 1_000_000_000))  # other times, another folder
        path.chmod(0o600)
    assert payload.build_from(copy).data == first.data


def test_a_changed_source_file_changes_the_sha(tmp_path: Path):
    copy = copy_tree(tmp_path / "copy")
    before = payload.build_from(copy)
    with open(copy / "ssm_action" / "agent" / "health.py", "a") as handle:
        handle.write("ONE_MORE_LINE = 1\n")  # a comment alone is not shipped
    after = payload.build_from(copy)
    assert after.sha256 != before.sha256 and after.members == before.members


def test_exactly_the_agent_files_and_a_stub_package_marker():
    agent = payload.build()
    stubs = ["ssm_action/__init__.py", "ssm_action/contract/__init__.py"]  # not the action's real ones
    expected = sorted(["__main__.py", *stubs, "ssm_action/agent/__init__.py"]
                      + [f"ssm_action/{m}.py" for m in payload.members(PACKAGE, frozenset())])
    assert list(agent.members) == expected
    with zipfile.ZipFile(agent_zipapp()) as archive:
        assert archive.namelist() == expected
        assert [archive.read(name) for name in stubs] == [b"", b""]
        for name in expected[1:]:
            if name in stubs:
                continue
            source = (payload.PACKAGE_ROOT / name).read_bytes()
            kept = source if name in payload.KEPT_AS_WRITTEN else payload.compact(source)
            assert archive.read(name) == kept, name
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0) and info.external_attr >> 16 == 0o100644
    assert "__version__" in (PACKAGE / "__init__.py").read_text()  # the real one has content


class _Unread(ast.NodeTransformer):
    """Drops what no code reads: function annotations, and an assignment's outside a class body."""

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        node.body = [item if isinstance(item, ast.AnnAssign) else self.visit(item) for item in node.body]
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                arg.annotation = None
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        return node if node.value is None else ast.Assign(targets=[node.target], value=node.value)


def _without_docstrings(tree: ast.Module) -> str:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(_Unread().visit(tree))


def test_compact_code_is_the_same_code_without_comments_docstrings_and_unread_annotations():
    sources = [*(PACKAGE / "contract").glob("*.py"), *(PACKAGE / "agent").glob("*.py")]
    for path in sources:
        source = path.read_bytes()
        small = payload.compact(source)
        assert _without_docstrings(ast.parse(small)) == _without_docstrings(ast.parse(source)), path
        tokens = tokenize.generate_tokens(io.StringIO(small.decode()).readline)
        assert not [t for t in tokens if t.type == tokenize.COMMENT], path
        assert len(small) < len(source), path
    # strings keep their blank lines, '#' and indentation; a docstring-only body gets a pass; a level is a space
    sample = (b'"""Module."""\nX = """a\n\n    # not a comment\n"""  # a comment\n\n\ndef f():\n    """Only."""\n'
              b'def g(a,\n      b):\n    if a:\n        return b\n')
    assert payload.compact(sample) == (b'X = """a\n\n    # not a comment\n"""\ndef f():\n pass\n'
                                       b'def g(a,\n   b):\n if a:\n  return b\n')
    typed = (b'from __future__ import annotations\nclass P:\n    n: int = 1\n'
             b'def f(a: Dict[\n        str, int], *r: str, k: "\xc3\xa9" = 2, **o: int) -> Tuple[\n        int, str]:\n'
             b'    x: List[int] = []\n    return x\n')
    assert payload.compact(typed) == (b'from __future__ import annotations\nclass P:\n n: int = 1\n'
                                      b'def f(a, *r, k = 2, **o) :\n x = []\n return x\n')


def test_the_agent_imports_only_the_standard_library_and_its_own_members():
    agent = payload.build_all()
    own = {m[:-3].replace("/", ".").removesuffix(".__init__") for m in agent.members}
    archive = zipfile.ZipFile(io.BytesIO(agent.data))
    for member in agent.members:
        tree = ast.parse(archive.read(member))  # as shipped: the contract's __init__.py is a stub
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
        names |= {node.module for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and node.module}
        foreign = {n for n in names if n.split(".")[0] not in sys.stdlib_module_names
                   and n != "__future__" and n not in own}
        assert not foreign, (member, foreign)


def test_write_names_the_file_by_its_sha(tmp_path: Path):
    path = payload.write(tmp_path)
    agent = payload.build()
    assert path == tmp_path / f"ssm-deploy-agent-{agent.sha256[:12]}.pyz" == tmp_path / agent.filename
    assert path.read_bytes() == agent.data


def test_an_operator_can_list_unpack_and_run_it(tmp_path: Path):
    listed = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(agent_zipapp())],
                            capture_output=True, text=True, check=True).stdout
    assert "ssm_action/agent/deploy.py" in listed and "__main__.py" in listed
    unpacked = tmp_path / "agent"
    subprocess.run([sys.executable, "-m", "zipfile", "-e", str(agent_zipapp()), str(unpacked)],
                   check=True)
    for runnable in (agent_zipapp(), unpacked):  # the folder runs as the zip does
        done = subprocess.run([sys.executable, str(runnable), "--params-b64", "e30="],
                              capture_output=True, text=True, cwd=tmp_path,
                              env={"PATH": os.environ["PATH"]})
        result = AgentResult.parse(done.stdout)
        assert done.returncode == ExitCode.BAD_PARAMS and result is not None
        assert result.status == "invalid" and "deploy_id is required" in (result.error or "")


@pytest.fixture
def py38() -> str:
    if not os.path.exists(PY38):
        pytest.skip(f"NO PYTHON 3.8 at {PY38}: the zipapp's oldest supported Python is NOT "
                    "tested (install it with pyenv)")
    return PY38


def test_the_zipapp_deploys_and_redeploys_under_python_3_8(server: Server, py38: str):
    v1 = server.commit("v1")
    first = server.deploy(v1, python=py38)
    assert first.code == ExitCode.OK, first.out + first.err
    assert first.err == "" and first.result["python"].startswith("3.8.")
    assert server.get() == (200, "v1 tinydep-1.0")
    v2 = server.commit("v2", files={"static/new.txt": "new"})
    second = server.deploy(v2, python=py38)
    assert second.code == ExitCode.OK, second.out + second.err
    assert (second.result["previous_sha"], second.result["running_sha"]) == (v1, v2)
    assert second.result["backup_path"] and second.err == ""
    assert server.get() == (200, "v2 tinydep-1.0")


def test_a_feature_ships_its_modules_and_only_a_deploy_that_uses_it_carries_them():
    core = set(payload.build(frozenset({"linux"})).members)
    assert {"ssm_action/agent/posix.py", "ssm_action/agent/git_source.py"} <= core
    assert not {"ssm_action/agent/windows.py", "ssm_action/agent/secrets.py", "ssm_action/agent/service.py",
                "ssm_action/agent/delivery.py", "ssm_action/contract/secret_lines.py"} & core
    for extra in sorted(payload.EXTRAS - {"linux"}):
        members = set(payload.build(frozenset({"linux", extra})).members)
        entries = {f"ssm_action/{m}.py" for m in payload.FEATURES[extra]}
        assert entries <= members - core, extra
    # its imports ship with it: the launcher with a service, the artifact's format with an artifact
    assert "ssm_action/agent/launcher.py" in payload.build(frozenset({"service-linux"})).members
    assert "ssm_action/contract/artifact.py" in payload.build(frozenset({"artifact"})).members
    assert payload.extras_for({"platform": "linux"}) == {"linux"}
    assert payload.extras_for({"platform": "windows", "app_host": "service",
                               "app_secrets": {"K": "ssm:/k"}}) == {"windows", "service-windows", "secrets"}
    # a rollback starts the version put back as it was started: as a service, with secrets, maybe
    assert payload.extras_for({"platform": "linux", "action": "rollback"}) == {"linux", "service-linux", "secrets"}
    assert payload.extras_for({"platform": "windows", "action": "rollback", "source": "artifact"}) == {
        "windows", "artifact", "service-windows", "secrets"}
    with pytest.raises(ValueError):
        payload.build(frozenset({"nope"}))


def test_a_server_gets_its_own_platforms_modules_only():
    linux, windows = (set(payload.build(frozenset({p})).members) for p in ("linux", "windows"))
    assert "ssm_action/agent/posix.py" in linux - windows
    assert {"ssm_action/agent/windows.py", "ssm_action/agent/winproc.py"} <= windows - linux
    assert linux | windows == set(payload.build().members)  # no platform named: both


def test_every_module_has_a_place_in_the_payload():
    """Each lazy import names a feature's module (or one the entry loads anyway), and every agent and
    contract module ships with some deploy: nothing can be left out of a zipapp by a forgotten list."""
    every = set(payload.members(PACKAGE, payload.EXTRAS, every=True))
    for path in sorted((PACKAGE / "agent").glob("*.py")) + sorted((PACKAGE / "contract").glob("*.py")):
        _, lazy = payload.module_imports(path.read_bytes())
        assert lazy <= every, path.name
    modules = {f"{d}/{p.stem}" for d in ("agent", "contract") for p in (PACKAGE / d).glob("*.py")
               if p.stem != "__init__"}
    assert modules - every == {"contract/secret_lines", "contract/action"}  # the action's alone


def test_the_agent_imports_the_contracts_modules_not_the_package_which_it_carries_as_a_stub():
    for path in (PACKAGE / "agent").glob("*.py"):
        imported = {node.module for node in ast.walk(ast.parse(path.read_bytes())) if isinstance(node, ast.ImportFrom)}
        assert "ssm_action.contract" not in imported, path.name


def test_the_backups_ship_with_git_deploys_only():
    """A deploy from an artifact keeps releases, never zip backups: its command is smaller without them."""
    assert "ssm_action/agent/backups.py" in payload.build().members
    assert "ssm_action/agent/backups.py" not in payload.build(frozenset({"artifact"})).members


def test_every_module_runs_from_the_full_zipapp(tmp_path: Path):
    """Each optional module imports from the zipapp with only the modules its features ship."""
    for extra in sorted(payload.EXTRAS):
        path = tmp_path / f"{extra}.pyz"
        path.write_bytes(payload.build(frozenset({extra})).data)
        names = ", ".join(f"ssm_action.{m.replace('/', '.')}" for m in payload.FEATURES[extra])
        code = f"import sys; sys.path.insert(0, {str(path)!r}); import {names}"
        subprocess.run([sys.executable, "-I", "-c", code], check=True)


def test_the_agent_fetched_from_s3_ships_every_module_as_written():
    full, inline = payload.build_full(), payload.build_all()
    assert full.members == inline.members and full.sha256 != inline.sha256
    with zipfile.ZipFile(io.BytesIO(full.data)) as archive:
        for name in full.members:
            if name.startswith("ssm_action/agent/"):
                assert archive.read(name) == (payload.PACKAGE_ROOT / name).read_bytes(), name
