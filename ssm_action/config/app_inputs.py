"""The app's inputs: start command, plain environment, secret references, host, health answer.

Every line is checked here, all problems at once; the rest (the command's form, the
accepted statuses, the account name) by the agent's contract at config time.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ssm_action.config.sections import AppConfig
from ssm_action.contract import SecretRef, parse_secret_lines

if TYPE_CHECKING:
    from ssm_action.config.reader import Reader

APP_HOSTS = ("process", "service", "task")
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _env_lines(r: Reader) -> tuple[tuple[str, str], ...]:
    pairs: dict[str, str] = {}
    for number, line in enumerate(r.raw["app-env"].splitlines(), 1):
        name, sep, value = line.strip().partition("=")
        if not line.strip() or line.strip().startswith("#"):
            continue
        if not sep or not VARIABLE.match(name.strip()):
            r.fail("app-env", f"line {number} is not KEY=VALUE with a variable name as KEY, e.g. LOG_LEVEL=info.",
                   line)
        elif name.strip() in pairs:
            r.fail("app-env", f"line {number} sets {name.strip()} again; give each variable once.", line)
        else:
            pairs[name.strip()] = value
    return tuple(pairs.items())


def _secret_lines(r: Reader) -> tuple[tuple[str, SecretRef], ...]:
    refs, errors = parse_secret_lines(r.raw["app-secrets"])
    lines = r.raw["app-secrets"].splitlines()
    for error in errors:
        r.fail("app-secrets", f"{error}.", lines[error.line - 1])
    return tuple(refs.items())


def read(r: Reader) -> AppConfig:
    app = AppConfig(
        app_command=r.args("app-command"),
        app_env=_env_lines(r),
        app_secrets=_secret_lines(r),
        app_host=r.choice("app-host", APP_HOSTS),
        app_user=r.text("app-user"),
        stop_timeout=r.number("stop-timeout", 0, 3600),
        start_grace=r.number("start-grace", 0, 600),
        health_check_status=r.text("health-check-status").replace(" ", ""),
        health_check_contains=r.raw["health-check-contains"],
    )
    if app.app_user and app.app_host == "process":
        r.fail("app-user", "is used only with app-host: service (or task); set app-host: service, or clear app-user.")
    return app
