"""The GitHub deployment of one deploy: created when it starts, a final status on every path.

Plain ``requests`` rather than PyGithub, on purpose: PyGithub's default retry
re-sends POSTs on 5xx and 403 (duplicate deployments), a 202 gives an object
without an id, and its create_status has no ``log_url``. Here every request is
sent exactly as GitHub's OpenAPI description says, a deployment is never
re-POSTed before checking whether the failed attempt created it, and status
posts retry with backoff within a time budget.

A GitHub failure never changes the deploy's result: it becomes a warning that
says how to fix it, and a line in the summary.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import requests

from ssm_action import __version__, config, context, runner
from ssm_action.config import Config
from ssm_action.context import RunContext

T = TypeVar("T")
API_VERSION = "2022-11-28"
TIMEOUT = (5, 20)  # connect, read (seconds) per request
BACKOFF = 1.0  # first wait before a retry (seconds); doubles each time
START_SECONDS = 30.0  # budget to create the deployment and its in_progress status
FINAL_SECONDS = 60.0  # budget for the final status
CANCEL_SECONDS = 5.0  # after a cancel the runner kills the container within seconds
DESCRIPTION_LIMIT = 140  # GitHub's maximum for a status description
STATE_ID = "deployment_id"  # GITHUB_STATE names read by the post-entrypoint
STATE_FINAL = "deployment_final"
OPEN_STATES = ("", "in_progress", "queued", "pending")  # "": created, but no status got through
KILLED = {"state": "error", "description": "The deploy step ended without a final status (killed or timed out)"}

PERMISSION_HINT = ("The workflow's token may not write deployments: add `permissions: deployments: write` "
                   "to the job (or the workflow), or set create-deployment: false.")
HINTS = {
    401: "GitHub refused the token (expired or invalid): leave github-token at its default "
         "(the workflow's token) or pass a valid token.",
    403: "The token may not write deployments to {repo}: a personal access token needs the repo or "
         "repo_deployment scope (fine-grained: Deployments read and write).",
    404: "GitHub cannot find {repo} with this token: the token cannot see the repository, or "
         "GITHUB_API_URL ({api}) points at another server. Use the workflow's token or one with access to {repo}.",
    409: "GitHub refused the deployment (409 Conflict: a merge conflict or failed commit status checks). "
         "This action sends auto_merge: false and required_contexts: [], so check the environment's "
         "protection rules and the branch protection of the ref.",
    422: "GitHub rejected the request as invalid (422): check that the commit is pushed to {repo} and that "
         "the environment name is allowed; GitHub also answers 422 when the endpoint is called too often.",
}


def truncate(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class GitHubError(Exception):
    """A request GitHub refused or could not answer; the message says how to fix it."""

    def __init__(self, message: str, retryable: bool = False, wait: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.wait = wait  # seconds GitHub asked us to wait (Retry-After, rate limit reset)


def _github_message(resp: requests.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return truncate(resp.text or resp.reason or "", 200)
    if not isinstance(data, dict):
        return ""
    details = "; ".join(str(e.get("message") or e.get("code") or e) if isinstance(e, dict) else str(e)
                        for e in data.get("errors") or [])
    return truncate(f"{data.get('message', '')}{f' ({details})' if details else ''}", 300)


def _rate_limit_wait(resp: requests.Response, said: str) -> float | None:
    """Seconds until GitHub accepts requests again, if this answer is a (secondary) rate limit."""
    headers = resp.headers
    limited = resp.status_code == 429 or (
        resp.status_code == 403 and (headers.get("X-RateLimit-Remaining") == "0" or "rate limit" in said.lower()))
    if not limited:
        return None
    if headers.get("Retry-After", "").isdigit():
        return float(headers["Retry-After"])
    if headers.get("X-RateLimit-Reset", "").isdigit():
        return max(float(headers["X-RateLimit-Reset"]) - time.time(), 0.0)
    return 60.0


def explain(resp: requests.Response, repository: str, api_url: str) -> GitHubError:
    """Map an error answer to a message that says what to do."""
    code = resp.status_code
    said = _github_message(resp)
    tail = f" GitHub said: {said}" if said else ""
    wait = _rate_limit_wait(resp, said)
    if wait is not None:
        return GitHubError(f"GitHub's API rate limit was reached ({code}); it accepts requests again in "
                           f"{wait:.0f} s. Re-run the job later, or use a token with a higher limit.{tail}",
                           retryable=True, wait=wait)
    if code >= 500:
        after = resp.headers.get("Retry-After", "")
        return GitHubError(f"GitHub had a server error ({code}); re-run the job if it persists.{tail}",
                           retryable=True, wait=float(after) if after.isdigit() else None)
    if code == 403 and "not accessible by integration" in said.lower():
        return GitHubError(f"{PERMISSION_HINT}{tail}")
    hint = HINTS.get(code, f"GitHub answered {code}.").format(repo=repository, api=api_url)
    return GitHubError(f"{hint}{tail}")


def retry(call: Callable[[], T], seconds: float) -> T:
    """Call until it succeeds, a non-retryable error, or the time budget is spent."""
    deadline = time.monotonic() + seconds
    delay = BACKOFF
    while True:
        try:
            return call()
        except GitHubError as exc:
            wait = delay if exc.wait is None else exc.wait
            if not exc.retryable or time.monotonic() + wait > deadline:
                raise
        time.sleep(wait)
        delay *= 2


class Client:
    """The four Deployments API calls this action makes, for one repository."""

    def __init__(self, api_url: str, repository: str, token: str):
        self.api_url = api_url
        self.repository = repository
        import requests  # only when a deployment is recorded: not on the post step's usual path

        self.session = requests.Session()
        self.session.headers.update({
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"ssm-deploy-action/{__version__}",
        })

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             params: dict[str, Any] | None = None, expect: type = dict) -> Any:
        """One request; the answer must be JSON of the ``expect`` type, as GitHub's API sends."""
        import requests

        url = f"{self.api_url}/repos/{self.repository}{path}"
        try:
            resp = self.session.request(method, url, json=body, params=params, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise GitHubError(f"Could not reach GitHub at {self.api_url} ({type(exc).__name__}). On GitHub "
                              "Enterprise Server check GITHUB_API_URL and the runner's network and proxy.",
                              retryable=True) from exc
        if resp.status_code >= 400:
            raise explain(resp, self.repository, self.api_url)
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, expect):
            raise GitHubError(f"{self.api_url} answered {resp.status_code} with something GitHub's API does not "
                              "send: is GITHUB_API_URL the API's address (https://HOST/api/v3 on Enterprise Server)?")
        return data

    def create(self, body: dict[str, Any], seconds: float) -> int:
        """Create the deployment; before any retry, adopt the one a failed attempt may have created."""
        attempt = itertools.count()
        return retry(lambda: self._create_once(body, again=next(attempt) > 0), seconds)

    def _create_once(self, body: dict[str, Any], again: bool) -> int:
        if again:
            found = self.find(body["ref"], body["environment"], body["payload"]["deploy_id"])
            if found is not None:
                return found
        data = self.call("POST", "/deployments", body)
        if not isinstance(data.get("id"), int):  # 202: GitHub merged the default branch instead
            raise GitHubError(f"GitHub created no deployment ({data.get('message') or 'no id in its answer'}).")
        return data["id"]

    def find(self, sha: str, environment: str, deploy_id: str) -> int | None:
        listed = self.call("GET", "/deployments", params={"sha": sha, "environment": environment,
                                                          "task": "deploy", "per_page": 30}, expect=list)
        for item in listed:
            payload = item.get("payload")
            if isinstance(payload, dict) and payload.get("deploy_id") == deploy_id:
                return int(item["id"])
        return None

    def post_status(self, deployment_id: int, body: dict[str, Any], seconds: float) -> None:
        retry(lambda: self.call("POST", f"/deployments/{deployment_id}/statuses", body), seconds)

    def latest_state(self, deployment_id: int) -> str:
        statuses = self.call("GET", f"/deployments/{deployment_id}/statuses", params={"per_page": 1}, expect=list)
        return str(statuses[0]["state"]) if statuses else ""


def skip_reason(cfg: Config, ctx: RunContext) -> str:
    if not cfg.create_deployment:
        return "create-deployment is false"
    if cfg.dry_run:
        return "this is a dry run"
    if not cfg.github_token:
        return "github-token is empty"
    if not ctx.repository:
        return "GITHUB_REPOSITORY is not set (not in a workflow)"
    return ""


def status_body(state: str, description: str, log_url: str, environment_url: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"state": state, "description": truncate(runner.redact(description))}
    if log_url:
        body["log_url"] = log_url
    if environment_url:
        body["environment_url"] = environment_url
    return body


class Deployment:
    """This deploy's GitHub deployment. ``note`` says why it was not (fully) recorded."""

    def __init__(self, cfg: Config, ctx: RunContext, environment: str):
        self.cfg = cfg
        self.ctx = ctx
        self.environment = environment
        self.id: int | None = None
        self.state = ""  # the last status posted
        self.note = skip_reason(cfg, ctx)
        self.client = None if self.note else Client(ctx.api_url, ctx.repository, cfg.github_token)

    def start(self, targets: list[str]) -> None:
        """Create the deployment and mark it in_progress (a notice instead when skipped)."""
        if self.client is None:
            runner.notice(f"No GitHub deployment is recorded: {self.note}. The deploy goes ahead.",
                          title="GitHub deployment skipped")
            return
        try:
            self.id = self.client.create(self._create_body(targets), START_SECONDS)
        except GitHubError as exc:
            self._warn("GitHub deployment not recorded", f"Could not create the GitHub deployment: {exc}")
            return
        runner.set_output("deployment-id", str(self.id))
        runner.save_state(STATE_ID, str(self.id))
        self._post("in_progress", f"Deploying {self.ctx.sha[:12]} to {self.environment} via {self.cfg.transport}",
                   START_SECONDS)

    def finish(self, state: str, description: str, seconds: float) -> None:
        """The final status; if it cannot be posted, the post-entrypoint tries again."""
        if self.id is None:
            return
        runner.save_state(STATE_FINAL, json.dumps(status_body(state, description, "")))
        if self._post(state, description, seconds, self.cfg.environment_url):
            runner.save_state(STATE_ID, "")  # nothing left for the post-entrypoint

    def _create_body(self, targets: list[str]) -> dict[str, Any]:
        ctx = self.ctx
        return {
            "ref": ctx.sha,
            "task": "deploy",
            "auto_merge": False,  # the default merges the default branch into the ref (202, no deployment)
            "required_contexts": [],  # our gates are the checks; the default demands every context green (409)
            "environment": self.environment,
            "production_environment": self.environment == "production",
            "description": truncate(f"{ctx.sha[:12]} ({ctx.branch or 'no branch'}) by {ctx.actor} "
                                    f"via {self.cfg.transport}"),
            "payload": {"tool": "ssm-deploy-action", "deploy_id": ctx.deploy_id, "run_url": ctx.run_url,
                        "transport": self.cfg.transport, "targets": targets},
        }

    def _post(self, state: str, description: str, seconds: float, environment_url: str = "") -> bool:
        try:
            self.client.post_status(self.id, status_body(state, description, self.ctx.run_url, environment_url),
                                    seconds)
        except GitHubError as exc:
            self._warn("GitHub deployment status not posted",
                       f"Could not set GitHub deployment {self.id} to {state}: {exc}")
            return False
        self.state = state
        return True

    def _warn(self, title: str, message: str) -> None:
        self.note = message
        runner.warning(message, title=title)


def finalise_leftover(env: Mapping[str, str] = os.environ) -> None:
    """The post-entrypoint: finish a deployment the main step left open (killed, or its post failed)."""
    deployment_id = env.get(f"STATE_{STATE_ID}", "")
    if not deployment_id.isdigit():
        return
    raw = config.raw_inputs(env)
    token = raw["github-token"].strip()
    runner.mask(token)
    ctx = context.from_env(Path.cwd(), env)
    client = Client(ctx.api_url, ctx.repository, token)
    final = json.loads(env.get(f"STATE_{STATE_FINAL}") or "{}") or KILLED
    try:
        latest = client.latest_state(int(deployment_id))
        if latest in OPEN_STATES:
            body = status_body(final["state"], final["description"], ctx.run_url, raw["environment-url"])
            client.post_status(int(deployment_id), body, FINAL_SECONDS)
            runner.log(f"GitHub deployment {deployment_id} was left {latest or 'without a status'}; "
                       f"set it to {final['state']}.")
    except GitHubError as exc:
        runner.warning(f"Could not finalise GitHub deployment {deployment_id}; it may still show in progress: {exc}",
                       title="GitHub deployment status not posted")
