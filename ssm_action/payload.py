"""The deploy agent as one deterministic zipapp, built at send time from this package.

Members: ``__main__.py`` (calls the agent's main), ``ssm_action/__init__.py`` as
an empty stub (the action's real package module is never shipped, as Ansible's
AnsiballZ does it), and the agent and contract modules the deploy needs, worked out from the
imports (``members``; the contract's ``__init__.py``, which re-exports for the action, as a stub).
Members are sorted, with a fixed time (1980-01-01) and fixed permissions, and
stored uncompressed (ZIP_STORED): the same code gives the same bytes and the
same sha256 on any machine, whatever its zlib (deflate output differs between
zlib builds). The bootstrap xz-compresses the whole archive for the trip, which also
compresses across files (a third smaller than deflated members).
An operator reads one with ``python -m zipfile -l <file>`` (list) or ``-e
<file> <folder>`` (unpack); ``python <file> --params-file PATH`` runs it.

Inline in the SSM command, the code is shipped without comments and docstrings
(``compact``): the whole command must fit SSM's parameter limit. The agent's
``__init__.py``, its guide for operators, is shipped as written; the source with its
comments is this repository at the action's version. Fetched from S3 (``build_full``:
the command carries only its address and sha256), every module is shipped as written.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import tokenize
import zipfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the folder holding ssm_action/
MAIN = b'''"""ssm-deploy-action's deploy agent: python <this file> --params-file PATH."""
import sys

from ssm_action.agent.cli import main

sys.exit(main())
'''
STUB = b""  # ssm_action/__init__.py, ssm_action/contract/__init__.py: package markers only
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
MODE = 0o100644  # a regular file, rw-r--r--
UNIX = 3  # ZipInfo.create_system: the same on every build machine


@dataclass(frozen=True)
class Payload:
    data: bytes
    sha256: str  # hex
    members: tuple[str, ...]

    @property
    def filename(self) -> str:
        return f"ssm-deploy-agent-{self.sha256[:12]}.pyz"


KEPT_AS_WRITTEN = ("ssm_action/agent/__init__.py",)
ENTRY = "agent/cli"  # where the agent starts (__main__.py)
# The modules only some deploys need, by feature; the server's platform is one. Each is imported lazily,
# where the feature is used, and ships with the modules it imports at module level: the members are
# worked out from the imports (as Ansible's module_common does), so a module is never listed by hand.
FEATURES: dict[str, tuple[str, ...]] = {
    "linux": ("agent/posix",),
    "windows": ("agent/windows", "agent/winproc"),
    "git": ("agent/git_source",),  # every deploy but an artifact's: its commit, and the zip backups
    "artifact": ("agent/delivery",),
    "secrets": ("agent/secrets",),
    "service-linux": ("agent/service", "agent/systemd"),
    "service-windows": ("agent/service", "agent/winservice", "agent/winservice_run", "agent/scheduled_task"),
}
EXTRAS = frozenset(FEATURES) - {"git"}  # what a caller names; git ships unless the deploy is an artifact's
PLATFORMS = ("linux", "windows")


def inline_extras(platform: str) -> frozenset[str]:
    """Every feature a command for ``platform`` can carry inline: never the other platform's modules, nor
    the artifact modules (source: artifact needs s3-bucket, so that agent always comes from S3)."""
    return frozenset({platform, "secrets", f"service-{platform}"})


def extras_for(params: Mapping[str, Any]) -> frozenset[str]:
    """The features a deploy with these agent parameters (their JSON, as sent) uses."""
    platform = params.get("platform")
    wanted = {platform} if platform in PLATFORMS else set()
    if params.get("app_secrets"):
        wanted.add("secrets")
    if params.get("app_host") in ("service", "task"):
        wanted.add(f"service-{platform}")
    if params.get("source") == "artifact":
        wanted.add("artifact")
    # A rollback starts the version put back as it was started: maybe as a service, with secrets.
    if params.get("action") == "rollback":
        wanted.update(("secrets", f"service-{platform}"))
    return frozenset(wanted)


def module_imports(source: bytes) -> tuple[set[str], set[str]]:
    """The agent and contract modules (``agent/x``) a module imports: at module level (they load with it),
    and inside functions (lazily: a feature's). Imports under ``if TYPE_CHECKING`` never run: left out."""
    eager: set[str] = set()
    lazy: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                continue
            if isinstance(child, ast.ImportFrom) and (child.module or "").startswith("ssm_action."):
                base = (child.module or "")[len("ssm_action."):].replace(".", "/")
                (lazy if in_function else eager).update(
                    f"{base}/{alias.name}" if base in ("agent", "contract") else base for alias in child.names)
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(source), False)
    return eager, lazy - eager


def members(package: Path, extras: frozenset[str], every: bool = False) -> list[str]:
    """The modules (``agent/x``, ``contract/x``) a deploy with ``extras`` needs: the entry's and the features'
    modules with all they import at module level. No platform named: both (a caller that does not know)."""
    wanted = set(extras) | ({"git"} if "artifact" not in extras or every else set())
    if not wanted & set(PLATFORMS):
        wanted |= set(PLATFORMS)
    todo = [ENTRY] + [module for feature in sorted(wanted) for module in FEATURES[feature]]
    found: set[str] = set()
    while todo:
        module = todo.pop()
        if module not in found:
            found.add(module)
            todo += sorted(module_imports((package / f"{module}.py").read_bytes())[0])
    return sorted(found)


def sources(root: Path, extras: frozenset[str] = frozenset(), every: bool = False,
            as_written: bool = False) -> dict[str, bytes]:
    """Each member's name and bytes, from the tree under ``root`` (``every``: the git modules too)."""
    package = root / "ssm_action"
    files = {f"ssm_action/{module}.py": (package / f"{module}.py").read_bytes()
             for module in members(package, extras, every)}
    files["ssm_action/agent/__init__.py"] = (package / "agent" / "__init__.py").read_bytes()
    files = {name: text if as_written or name in KEPT_AS_WRITTEN else compact(text) for name, text in files.items()}
    return {"__main__.py": MAIN, "ssm_action/__init__.py": STUB, "ssm_action/contract/__init__.py": STUB, **files}


def _docstrings(tree: ast.Module) -> list[tuple[int, int, bool]]:
    """(first row, last row, body is only the docstring) of each docstring on rows of its own."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        first = node.body[0]
        if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            continue
        if not isinstance(node, ast.Module) and first.lineno == node.lineno:
            continue  # def f(): """doc""" on one row
        found.append((first.lineno, first.end_lineno or first.lineno, len(node.body) == 1))
    return found


def _annotations(tree: ast.Module, text: str) -> list[tuple[int, int, int, int]]:
    """(row, col, end row, end col; cols in bytes) of each annotation no code reads: a function's
    (``: T`` after a parameter, ``-> T``) and an assignment's outside a class body (a dataclass's
    fields are read). Every agent module has ``from __future__ import annotations``: none is evaluated."""
    arrows = [token.start for token in tokenize.generate_tokens(io.StringIO(text).readline)
              if token.type == tokenize.OP and token.string == "->"]
    rows = text.splitlines()
    in_class = {id(node) for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef) for node in cls.body}
    spans: list[Any] = []  # the end positions of parsed code are always set
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if arg is not None and arg.annotation is not None:
                    end = arg.annotation
                    spans.append((arg.lineno, arg.col_offset + len(arg.arg.encode()), end.end_lineno,
                                  end.end_col_offset))
            if node.returns is not None:
                row, col = max(a for a in arrows if a < (node.returns.lineno, node.returns.col_offset))
                col = len(rows[row - 1][:col].encode())
                spans.append((row, col, node.returns.end_lineno, node.returns.end_col_offset))
        elif isinstance(node, ast.AnnAssign) and node.value is not None and id(node) not in in_class:
            target = node.target
            spans.append((target.end_lineno, target.end_col_offset, node.annotation.end_lineno,
                          node.annotation.end_col_offset))
    return spans


def _without_annotations(text: str) -> str:
    data = text.encode("utf-8")
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    for row, col, end_row, end_col in sorted(_annotations(ast.parse(text), text), reverse=True):
        data = data[:starts[row - 1] + col] + data[starts[end_row - 1] + end_col:]
    return data.decode("utf-8")


def compact(source: bytes) -> bytes:
    """The same code without comments, docstrings, annotations, blank lines and most indentation
    (strings kept intact)."""
    text = _without_annotations(source.decode("utf-8"))
    rows = text.splitlines(keepends=True)
    in_string: set[int] = set()  # rows inside a multi-line string: kept even when blank
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            rows[row - 1] = rows[row - 1][:col].rstrip() + "\n"
        elif token.type == tokenize.STRING and token.end[0] > token.start[0]:
            in_string.update(range(token.start[0] + 1, token.end[0] + 1))
    for first, last, only in _docstrings(ast.parse(text)):
        indent = rows[first - 1][:len(rows[first - 1]) - len(rows[first - 1].lstrip())]
        for row in range(first, last + 1):
            rows[row - 1] = ""
            in_string.discard(row)
        if only:  # a body of just a docstring still needs a statement
            rows[first - 1] = indent + "pass\n"
    kept = [row if number in in_string else _one_space_per_level(row)
            for number, row in enumerate(rows, 1) if row.strip() or number in in_string]
    return "".join(kept).encode()


def _one_space_per_level(row: str) -> str:
    """Four spaces of indentation become one (the code's levels are kept; lines inside brackets may
    be indented anyhow): about 2% of the compressed command."""
    code = row.lstrip(" ")
    spaces = len(row) - len(code)
    return " " * (spaces // 4 + spaces % 4) + code


def build_from(root: Path, extras: frozenset[str] = frozenset(), every: bool = False,
               as_written: bool = False) -> Payload:
    buffer = io.BytesIO()
    files = sources(root, extras, every, as_written)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.create_system = UNIX
            info.external_attr = MODE << 16
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, files[name])
    data = buffer.getvalue()
    return Payload(data, hashlib.sha256(data).hexdigest(), tuple(sorted(files)))


@functools.lru_cache(maxsize=None)
def build(extras: frozenset[str] = frozenset()) -> Payload:
    """The agent of this installation with the modules of ``extras`` (built once per process)."""
    unknown = extras - EXTRAS
    if unknown:
        raise ValueError(f"unknown agent extras: {sorted(unknown)}")
    return build_from(PACKAGE_ROOT, extras)


def build_all() -> Payload:
    """Every module, more than any command carries (a git deploy's backups and the artifact modules)."""
    return build_from(PACKAGE_ROOT, EXTRAS, every=True)


@functools.lru_cache(maxsize=None)
def build_full() -> Payload:
    """Every module as written, comments and docstrings kept: the agent servers fetch from S3."""
    return build_from(PACKAGE_ROOT, EXTRAS, every=True, as_written=True)


def write(directory: str | Path, extras: frozenset[str] = frozenset()) -> Path:
    """Write the zipapp into ``directory`` as ssm-deploy-agent-<sha256[:12]>.pyz."""
    agent = build(extras)
    path = Path(directory) / agent.filename
    path.write_bytes(agent.data)
    return path
