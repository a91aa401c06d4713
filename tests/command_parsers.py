"""Stand-ins for the two runners' workflow-command parsers (they replace running GitHub's
runner or act over a job log): which commands each would execute from a log's lines.

GitHub's (actions/runner ActionCommandManager, ActionCommand.TryParseV2 / TryParse): a line
is `::name ...::data` after leading white space, or holds `##[name ...]data` anywhere;
`stop-commands` stops all processing until a line that is the command named by its token.
act's (pkg/runner/command.go): `^::([^ ]+)( (.+))?::` or `^##\\[([^ ]+)( (.+))?\\]` at the
line's very start; the same stop and resume.
"""

from __future__ import annotations

import re

ACT_GA = re.compile(r"^::([^ ]+)( (.+))?::([^\r\n]*)$")
ACT_ADO = re.compile(r"^##\[([^ ]+)( (.+))?\]([^\r\n]*)$")


def _github_parse(line: str) -> tuple[str, str] | None:
    text = line.lstrip()
    if text.startswith("::"):
        end = text.find("::", 2)
        if end > 2:
            return text[2:end].split(" ")[0], text[end + 2:]
    start = line.find("##[")
    if start >= 0:
        end = line.find("]", start)
        if end > start + 3:
            return line[start + 3:end].split(" ")[0], line[end + 1:]
    return None


def _act_parse(line: str) -> tuple[str, str] | None:
    match = ACT_GA.match(line) or ACT_ADO.match(line)
    return (match.group(1), match.group(4)) if match else None


def executed(log: str, runner: str) -> list[tuple[str, str]]:
    """(command, data) of every command the runner would carry out, stop and resume left out."""
    parse = _github_parse if runner == "github" else _act_parse
    done, token = [], ""
    for line in log.splitlines():
        found = parse(line)
        if not found:
            continue
        name, data = found
        if token:
            if name.lower() == token.lower():
                token = ""
            continue
        if name == "stop-commands":
            token = data
            continue
        done.append((name, data))
    return done
