"""SARIF files from bandit and flake8: their findings, and a copy for code scanning
whose paths are relative to the repository root (not to the working directory)."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ssm_action.gates.model import Finding

Severity = Callable[[dict[str, Any]], int]


def read(path: Path, reader: Callable[[Path], str]) -> dict[str, Any] | None:
    """The SARIF document in a file (read by reader), or None when the tool did not write a valid one."""
    try:
        return parse(reader(path))
    except OSError:
        return None


def parse(text: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("runs"), list) else None


def findings(doc: dict[str, Any], severity: Severity) -> list[Finding]:
    found = []
    for run in doc["runs"]:
        for result in run.get("results", []):
            where = (result.get("locations") or [{}])[0].get("physicalLocation", {})
            region = where.get("region", {})
            found.append(Finding(
                path=where.get("artifactLocation", {}).get("uri", ""),
                line=region.get("startLine"),
                col=region.get("startColumn"),
                code=result.get("ruleId", ""),
                message=result.get("message", {}).get("text", ""),
                severity=severity(result),
            ))
    return found


def relative_to(doc: dict[str, Any], root: Path) -> dict[str, Any]:
    """The document with file:// URIs under root made relative to it (ruff writes absolute ones)."""
    base = root.resolve().as_uri() + "/"
    for artifact in _artifacts(doc):
        if artifact.get("uri", "").startswith(base):
            artifact["uri"] = artifact["uri"][len(base):]
    return doc


def _artifacts(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for run in doc["runs"]:
        for result in run.get("results", []):
            for location in result.get("locations", []):
                yield location.get("physicalLocation", {}).get("artifactLocation", {})


def write_rebased(doc: dict[str, Any], prefix: str, target: Path) -> Path:
    """Write the document with every artifact URI joined to prefix (the working directory in the repository)."""
    for artifact in _artifacts(doc):
        if "uri" in artifact:
            artifact["uri"] = in_repo(prefix, artifact["uri"])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return target


def in_repo(prefix: str, path: str) -> str:
    """A path relative to the working directory, made relative to the repository root."""
    return posixpath.normpath(posixpath.join(prefix, path))
