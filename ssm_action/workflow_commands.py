"""The runner's command syntax, byte for byte as @actions/core writes it.

Every runner parses these: GitHub's, and act's (the engine of Gitea's and Forgejo's
runners), whose stricter parser (`^::([^ ]+)( (.+))?::`) rejects forms such as
`::add-mask ::value` that GitHub's accepts. So: `::name::message` without
properties, `::name key=value,key=value::message` with them.
"""

from __future__ import annotations

import os
import uuid


class FileCommandError(OSError):
    """A runner file (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY...) that cannot be written."""

    def __init__(self, variable: str, path: str, reason: str):
        super().__init__(f"{variable}: cannot write {path} ({reason}).")
        self.variable = variable
        self.path = path


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str = "", **properties: object) -> str:
    """One command line; properties that are None are left out, in the order given."""
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items()
                     if value is not None)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def issue(name: str, message: str = "", **properties: object) -> None:
    print(command(name, message, **properties), flush=True)


def key_value(name: str, value: str) -> str:
    """A GITHUB_OUTPUT / GITHUB_STATE / GITHUB_ENV entry: a heredoc with a random delimiter."""
    delimiter = f"ghadelimiter_{uuid.uuid4()}"  # random: no value can end the heredoc early
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def append(variable: str, text: str) -> None:
    """Append to the file the runner names in `variable` (GITHUB_OUTPUT...)."""
    path = os.environ[variable]
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise FileCommandError(variable, path, exc.strerror or str(exc)) from None


def writable(variable: str) -> None:
    """Raise FileCommandError if the runner's file in `variable` cannot be appended to."""
    if os.environ.get(variable):
        append(variable, "")
