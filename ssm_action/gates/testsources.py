"""Where a project declares how its tests run, read (never executed as a whole): tox's
test environment, nox's test session, a Makefile `test` target and the CI workflows' run
steps. Each gives command lines, in order, for testcommand to pick the test step from."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from ssm_action.gates import projectfiles

TEST_TARGETS = ("test", "tests")
TOX_SUBSTITUTIONS = {"{envpython}": "python", "{toxinidir}": ".", "{toxworkdir}": ".tox", "{envbindir}/": ""}
POSARGS = re.compile(r"\{posargs(?::([^}]*))?\}")
MAKE_VARIABLE = re.compile(r"\$[({](\w+)[)}]")
MAKE_ASSIGNMENT = re.compile(r"^(\w+)\s*[:?]?=\s*(.*)$")
WORKFLOWS = (".github/workflows/*.yml", ".github/workflows/*.yaml")


def tox(root: Path, env: str = "") -> list[str]:
    """The commands of tox's [testenv:<env>] (else [testenv]), as lines (tox.ini, or the ini
    in pyproject.toml's [tool.tox] legacy_tox_ini)."""
    parser, _ = projectfiles.tox(root)
    section = f"testenv:{env}" if env and parser.has_section(f"testenv:{env}") else "testenv"
    text = parser.get(section, "commands", fallback="")
    lines = []
    for line in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"^[\w,-]+:\s+", "", line.strip())  # factor-conditional commands
        for name, value in TOX_SUBSTITUTIONS.items():
            line = line.replace(name, value)
        line = POSARGS.sub(lambda m: m.group(1) or "", line)
        if line and not line.startswith("#"):
            lines.append(line.lstrip("- "))
    return lines


def nox(root: Path, session: str = "") -> list[str]:
    """`session.run(...)` calls (literal words only) of noxfile.py's test session."""
    path = root / "noxfile.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    wanted = [f for f in functions if f.name == session] if session else [
        f for f in functions if f.name in TEST_TARGETS or f.name.startswith("test")]
    lines = []
    for call in (node for f in wanted[:1] for node in ast.walk(f) if isinstance(node, ast.Call)):
        if isinstance(call.func, ast.Attribute) and call.func.attr == "run":
            words = [arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
            if words and len(words) == len(call.args):
                lines.append(" ".join(_quote(word) for word in words))
    return lines


def _quote(word: str) -> str:
    return word if re.fullmatch(r"[\w./:=,@+-]+", word) else "'" + word.replace("'", "'\"'\"'") + "'"


def makefile(root: Path, target: str = "") -> list[str]:
    """The recipe of the Makefile's `test` target, its $(VARIABLES) replaced by their values."""
    path = root / "Makefile"
    try:
        text = path.read_text(encoding="utf-8", errors="replace").replace("\\\n", " ")
    except OSError:
        return []
    variables = {m.group(1): m.group(2).strip() for m in map(MAKE_ASSIGNMENT.match, text.splitlines()) if m}
    targets = (target,) if target else TEST_TARGETS
    lines: list[str] = []
    inside = False
    for line in text.splitlines():
        if not line.startswith("\t"):
            name = line.split(":", 1)[0].strip()
            inside = ":" in line and "=" not in line.split(":", 1)[0] and name in targets and not lines
            continue
        if inside:
            recipe = MAKE_VARIABLE.sub(lambda m: variables.get(m.group(1), ""), line.strip().lstrip("@-"))
            lines.append(recipe)
    return lines


def workflows(root: Path) -> list[str]:
    """Each CI workflow step's `run:` as one line (each step starts at the checkout, in its
    working-directory), in file and step order."""
    import yaml

    lines = []
    for pattern in WORKFLOWS:
        for path in sorted(root.glob(pattern)):
            try:
                doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                continue
            for step, folder in _steps(doc):
                commands = [line.strip() for line in str(step.get("run", "")).replace("\\\n", " ").splitlines()
                            if line.strip() and not line.strip().startswith("#")]
                folder = str(step.get("working-directory") or folder or "")
                if commands:
                    lines.append(" ;\n".join([f"cd {folder}"] * bool(folder) + commands))
    return lines


def _steps(doc: Any) -> list[tuple[dict[str, Any], str]]:
    """(step, its job's default working-directory)."""
    jobs = doc.get("jobs", {}) if isinstance(doc, dict) else {}
    steps = []
    for job in jobs.values() if isinstance(jobs, dict) else []:
        if isinstance(job, dict):
            folder = str(((job.get("defaults") or {}).get("run") or {}).get("working-directory") or "")
            steps += [(step, folder) for step in job.get("steps") or [] if isinstance(step, dict)]
    if isinstance(doc, dict) and isinstance(doc.get("steps"), list):  # a bare list of steps (tests, actions)
        steps += [(step, "") for step in doc["steps"] if isinstance(step, dict)]
    return steps
