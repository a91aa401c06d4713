"""The GitHub REST client: the Deployments API calls this action makes, its hints and its retries.

Plain ``requests`` rather than PyGithub, on purpose: PyGithub's default retry
re-sends POSTs on 5xx and 403 (duplicate deployments), a 202 gives an object
without an id, and its create_status has no ``log_url``. Here every request is
sent exactly as GitHub's OpenAPI description says, a deployment is never
re-POSTed before checking whether the failed attempt created it, and status
posts retry with backoff within a time budget.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import requests

from ssm_action import __version__

T = TypeVar("T")
API_VERSION = "2022-11-28"
TIMEOUT = (5, 20)  # connect, read (seconds) per request
BACKOFF = 1.0  # first wait before a retry (seconds); doubles each time
DESCRIPTION_LIMIT = 140  # GitHub's maximum for a status description

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
