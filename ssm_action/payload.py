"""The deploy agent as one deterministic zipapp, built at send time from this package.

Members: ``__main__.py`` (calls the agent's main), ``ssm_action/__init__.py`` as
an empty stub (the action's real package module is never shipped, as Ansible's
AnsiballZ does it), ``ssm_action/agent/*.py`` and the ``ssm_action/contract/`` modules the
agent imports (its ``__init__.py``, which re-exports them for the action, as an empty stub too).
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
CONTRACT = "ssm_action.contract."  # the agent imports the contract's modules, never the package's re-exports
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
# Agent modules only some deploys need, by the feature that needs them; every other module is
# always shipped. Core modules import these lazily, where the feature is used, so a deploy
# without the feature gets a smaller command (the whole command must fit SSM's limit).
EXTRAS: dict[str, tuple[str, ...]] = {
    "secrets": ("aws.py", "secrets.py"),
    "service-linux": ("service.py", "launcher.py", "systemd.py", "aws.py", "secrets.py"),
    "service-windows": ("service.py", "launcher.py", "scheduled_task.py", "winservice.py",
                        "winservice_run.py", "aws.py", "secrets.py"),
    "artifact": ("artifact.py", "links.py", "releases.py", "wheelhouse.py", "delivery.py"),
}
OPTIONAL = frozenset(module for modules in EXTRAS.values() for module in modules)
GIT_ONLY = ("backups.py", "git_source.py")  # core, but not shipped with the artifact modules: releases there


def inline_extras(platform: str) -> frozenset[str]:
    """Every feature a command for ``platform`` can carry inline: never the other platform's service host,
    nor the artifact modules (source: artifact needs s3-bucket, so that agent always comes from S3)."""
    return frozenset(name for name in EXTRAS if name != "artifact" and (
        not name.startswith("service-") or name == f"service-{platform}"))


def extras_for(params: Mapping[str, Any]) -> frozenset[str]:
    """The features a deploy with these agent parameters (their JSON, as sent) uses."""
    wanted = set()
    if params.get("app_secrets"):
        wanted.add("secrets")
    if params.get("app_host") in ("service", "task"):
        wanted.add(f"service-{params.get('platform')}")
    if params.get("source") == "artifact":
        wanted.add("artifact")
    # A rollback starts the version put back as it was started: maybe as a service, with secrets.
    if params.get("action") == "rollback":
        wanted.update(("secrets", f"service-{params.get('platform')}"))
    return frozenset(wanted)


def sources(root: Path, extras: frozenset[str] = frozenset(), every: bool = False,
            as_written: bool = False) -> dict[str, bytes]:
    """Each member's name and bytes, from the tree under ``root`` (``every``: GIT_ONLY's too)."""
    package = root / "ssm_action"
    files = {f"ssm_action/contract/{name}": (package / "contract" / name).read_bytes()
             for name in contract_modules(package)}
    shipped = {module for extra in extras for module in EXTRAS[extra]}
    left_out = GIT_ONLY if "artifact" in extras and not every else ()
    for path in (package / "agent").glob("*.py"):
        if (path.name not in OPTIONAL or path.name in shipped) and path.name not in left_out:
            files[f"ssm_action/agent/{path.name}"] = path.read_bytes()
    files = {name: text if as_written or name in KEPT_AS_WRITTEN else compact(text) for name, text in files.items()}
    return {"__main__.py": MAIN, "ssm_action/__init__.py": STUB, "ssm_action/contract/__init__.py": STUB, **files}


def contract_modules(package: Path) -> list[str]:
    """The contract's modules (file names) the agent imports, directly or through one another: the others
    are the action's alone (secret_lines.py), so an inline command does not carry them."""
    wanted: set[str] = set()
    todo = sorted((package / "agent").glob("*.py"))
    while todo:
        for node in ast.walk(ast.parse(todo.pop().read_bytes())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(CONTRACT):
                name = (node.module or "")[len(CONTRACT):] + ".py"
                if name not in wanted:
                    wanted.add(name)
                    todo.append(package / "contract" / name)
    return sorted(wanted)


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
    unknown = extras - set(EXTRAS)
    if unknown:
        raise ValueError(f"unknown agent extras: {sorted(unknown)}")
    return build_from(PACKAGE_ROOT, extras)


def build_all() -> Payload:
    """Every module, more than any command carries (a git deploy's backups and the artifact modules)."""
    return build_from(PACKAGE_ROOT, frozenset(EXTRAS), every=True)


@functools.lru_cache(maxsize=None)
def build_full() -> Payload:
    """Every module as written, comments and docstrings kept: the agent servers fetch from S3."""
    return build_from(PACKAGE_ROOT, frozenset(EXTRAS), every=True, as_written=True)


def write(directory: str | Path, extras: frozenset[str] = frozenset()) -> Path:
    """Write the zipapp into ``directory`` as ssm-deploy-agent-<sha256[:12]>.pyz."""
    agent = build(extras)
    path = Path(directory) / agent.filename
    path.write_bytes(agent.data)
    return path
