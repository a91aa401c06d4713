"""The input reader: each input's value checked and typed, each problem collected (never raised)
as a ConfigError naming the input, the value and the fix."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

SECRET_INPUTS = ("github-token", "safety-api-key", "notify-webhook")
TRUE_WORDS = ("true", "True", "TRUE")  # the YAML 1.2 forms the runner's toolkit accepts
FALSE_WORDS = ("false", "False", "FALSE")
WINDOWS_ABS = re.compile(r"^([A-Za-z]:[\\/]|\\\\[^\\]+\\)")


class ConfigError(NamedTuple):
    input: str
    value: str  # as given, shortened; never the value of a secret
    message: str  # what is wrong and how to fix it


def _shorten(value: str, limit: int = 80) -> str:
    value = value.replace("\n", "\\n")
    return value if len(value) <= limit else value[: limit - 3] + "..."


def split_list(text: str) -> tuple[str, ...]:
    """Lists accept commas and newlines; blanks are dropped."""
    return tuple(part.strip() for part in re.split(r"[,\n]", text) if part.strip())


class Reader:
    """Typed getters over the raw inputs; each bad value is recorded, not raised."""

    def __init__(self, raw: Mapping[str, str]):
        self.raw = raw
        self.errors: list[ConfigError] = []

    def fail(self, name: str, message: str, value: str | None = None) -> None:
        shown = "(hidden)" if name in SECRET_INPUTS else _shorten(self.raw[name] if value is None else value)
        self.errors.append(ConfigError(name, shown, message))

    def text(self, name: str) -> str:
        return self.raw[name].strip()

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name)
        if value not in allowed:
            self.fail(name, f"must be one of: {', '.join(allowed)}.")
            return allowed[0]
        return value

    def boolean(self, name: str) -> bool:
        value = self.text(name)
        if value in TRUE_WORDS or value in FALSE_WORDS:
            return value in TRUE_WORDS
        self.fail(name, "must be a boolean: true or false.")
        return False

    def integer(self, name: str, low: int, high: int) -> int:
        value = self.text(name)
        try:
            number = int(value)
        except ValueError:
            self.fail(name, f"must be a whole number from {low} to {high}.")
            return low
        if not low <= number <= high:
            self.fail(name, f"must be from {low} to {high}.")
        return number

    def number(self, name: str, low: float, high: float, percent: bool = False) -> float:
        """A number; with percent, also written with a % sign (only a percentage may carry one)."""
        value = self.text(name).removesuffix("%") if percent else self.text(name)
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not low <= number <= high:  # also false for nan
            self.fail(name, f"must be a number from {low:g} to {high:g}.")
            return low
        return number

    def items(self, name: str, check: Callable[[str], object] | None = None, hint: str = "") -> tuple[str, ...]:
        values = split_list(self.raw[name])
        for value in values:
            if check and not check(value):
                self.fail(name, hint, value)
        return values

    def args(self, name: str) -> tuple[str, ...]:
        try:
            return tuple(shlex.split(self.raw[name]))
        except ValueError as exc:
            self.fail(name, f"cannot be split into arguments ({exc}); check the quotes.")
            return ()

    def matching(self, name: str, pattern: re.Pattern[str], hint: str) -> str:
        value = self.text(name)
        if value and not pattern.match(value):
            self.fail(name, hint)
        return value

    def relative_path(self, name: str) -> str:
        value = self.text(name)
        if value and (os.path.isabs(value) or WINDOWS_ABS.match(value) or ".." in Path(value).parts):
            self.fail(name, "must be a path relative to the repository, without '..'.")
        return value

    def url(self, name: str) -> str:
        value = self.text(name)
        if value:
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                self.fail(name, "must be an http:// or https:// URL, e.g. http://localhost:8000/health.")
        return value
