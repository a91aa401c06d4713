"""The environment the project's own code runs in (its tests, smoke imports and the
build of its environment, where setup.py runs): the action's environment without its
secrets, so a compromised dependency cannot read the deploy credentials or tokens."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping

from ssm_action import runner

SECRET_PREFIXES = ("INPUT_", "AWS_", "ACTIONS_")  # the inputs, AWS credentials, the runner's tokens
SECRET_NAMES = frozenset({"GITHUB_TOKEN", "SAFETY_API_KEY"})
# The runner's own masks are invisible to a container: a workflow secret passed under another
# name (env: DB_PASSWORD: ${{ secrets.DB }}) is known by its name only. Words of the name
# (split at "_"), so TOKENIZERS_PARALLELISM or PWD are not taken for secrets.
SECRET_WORDS = frozenset({"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIALS", "APIKEY"})
SECRET_PAIRS = frozenset({("API", "KEY"), ("PRIVATE", "KEY"), ("ACCESS", "KEY")})


def secret_name(name: str) -> bool:
    upper = name.upper()
    words = upper.replace("-", "_").split("_")
    return (upper.startswith(SECRET_PREFIXES) or upper in SECRET_NAMES or bool(SECRET_WORDS & set(words))
            or any(pair in SECRET_PAIRS for pair in zip(words, words[1:])))


def is_secret(name: str, value: str, masked: Collection[str]) -> bool:
    return secret_name(name) or any(secret in value for secret in masked)


def without_secrets(keep: Collection[str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """base (os.environ) without secret names and masked values; names in keep stay."""
    masked = [secret for secret in runner.masked() if secret]
    items = (os.environ if base is None else base).items()
    return {name: value for name, value in items if name in keep or not is_secret(name, value, masked)}


def removed(keep: Collection[str], base: Mapping[str, str] | None = None) -> list[str]:
    """The names without_secrets leaves out (for the log: names only, never values)."""
    given = os.environ if base is None else base
    return sorted(set(given) - set(without_secrets(keep, given)))
