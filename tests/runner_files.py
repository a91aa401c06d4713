"""Read what the action wrote to the runner's file commands, as the runner would."""

from __future__ import annotations

from pathlib import Path


def read_file_commands(path: Path) -> dict[str, str]:
    """Parse GITHUB_OUTPUT / GITHUB_STATE: name=value lines and name<<DELIM heredocs."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").split("\n") if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            i += 1
            values[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def annotations(stdout: str, level: str = "error") -> list[str]:
    """The ::level ...::message lines of a job log, unescaped."""
    found = []
    for line in stdout.splitlines():
        if line.startswith(f"::{level} ") or line.startswith(f"::{level}::"):
            message = line.split("::", 2)[2]
            found.append(message.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%"))
    return found
