"""Lint defaults that follow the project where it does not configure the linter itself: the
line length of its formatter (black, ruff format) for flake8, generated code (Django migrations,
protobuf modules) left out, and bandit's assert rule (B101) off in tests. A tool's *-args input
replaces these defaults; each one applied is said in the gate's message."""

from __future__ import annotations

from pathlib import Path

from ssm_action.gates.projectfiles import pre_commit_args, pre_commit_hook, pyproject

GENERATED = ("*/migrations/*", "*_pb2.py", "*_pb2_grpc.py")
BLACK_IGNORES = "E203,W503"  # black's advice: flake8 disagrees with its slices and line breaks
BLACK_LENGTH = 88
TEST_FILES = ("*/tests/*", "*/test/*", "*/test_*.py", "*_test.py", "*/tests.py", "*/conftest.py")
BANDIT_CONFIGS = (".bandit", "bandit.yaml", "bandit.yml", ".bandit.yaml", ".bandit.yml")


def formatter_length(root: Path) -> tuple[int, str]:
    """The line length the project's formatter keeps, and which formatter; (0, '') when none is configured."""
    tools = pyproject(root).get("tool", {})
    if isinstance(tools.get("black"), dict):
        return int(tools["black"].get("line-length", BLACK_LENGTH)), "[tool.black]"
    if pre_commit_hook(root, "black") is not None:
        args = pre_commit_args(root, "black")
        given = [a.split("=", 1)[1] for a in args if a.startswith("--line-length=")]
        given += [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-l", "--line-length")]
        return int(given[0]) if given and given[0].isdigit() else BLACK_LENGTH, "black's pre-commit hook"
    ruff = tools.get("ruff")
    if isinstance(ruff, dict) and ("format" in ruff or pre_commit_hook(root, "ruff-format") is not None):
        return int(ruff.get("line-length", BLACK_LENGTH)), "ruff format ([tool.ruff])"
    return 0, ""


def generated(root: Path, targets: tuple[str, ...]) -> int:
    """How many generated modules the linted folders hold."""
    found = 0
    for target in targets:
        path = root / target
        files = path.rglob("*.py") if path.is_dir() else [path]
        found += sum(1 for f in files if f.parent.name == "migrations" or f.name.endswith(("_pb2.py", "_pb2_grpc.py")))
    return found


def _generated_said(count: int, args_input: str) -> str:
    return (f"{count} generated module(s) left out (Django migrations, *_pb2.py; {args_input} replaces "
            f"the defaults)") if count else ""


def flake8(root: Path, targets: tuple[str, ...], configures_flake8: bool) -> tuple[list[str], list[str]]:
    """flake8's default arguments and what each one says, when flake8-args is empty."""
    args, said = ["--extend-exclude=" + ",".join(GENERATED)], []
    length, formatter = (0, "") if configures_flake8 else formatter_length(root)
    if length:
        args += [f"--max-line-length={length}", f"--extend-ignore={BLACK_IGNORES}"]
        said.append(f"{length} columns with {BLACK_IGNORES.replace(',', ', ')} ignored, as the project's formatter "
                    f"{formatter} formats and flake8 is not configured (flake8-args replaces the defaults)")
    said.append(_generated_said(generated(root, targets), "flake8-args"))
    return args, [s for s in said if s]


def ruff(root: Path, targets: tuple[str, ...]) -> tuple[list[str], list[str]]:
    said = _generated_said(generated(root, targets), "ruff-args")
    return ["--extend-exclude", ",".join(GENERATED)], [said] if said else []


def bandit(root: Path, targets: tuple[str, ...], configured: bool, scratch: Path) -> tuple[list[str], list[str]]:
    """bandit's defaults, without a bandit config of the project's: generated code left out, and
    assert allowed in tests (pytest's way of checking), as most projects configure it."""
    if configured:  # its exclude too: bandit's --exclude would replace the one of .bandit
        return [], []
    config = scratch / "bandit-defaults.yaml"
    config.write_text("assert_used:\n  skips: [" + ", ".join(f"'{g}'" for g in TEST_FILES) + "]\n", encoding="utf-8")
    said = ["assert (B101) allowed in tests, as the project has no bandit config "
            "(a .bandit or [tool.bandit], or bandit-args, replaces the defaults)",
            _generated_said(generated(root, targets), "bandit-args")]
    return ["--exclude", ",".join(GENERATED), "--configfile", str(config)], [s for s in said if s]


def bandit_configured(root: Path) -> bool:
    return any((root / name).is_file() for name in BANDIT_CONFIGS) or "bandit" in pyproject(root).get("tool", {})
