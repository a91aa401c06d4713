"""The Deployments API client alone: error messages that say how to fix, bounded retries,
no duplicate deployments, and request bodies that match GitHub's OpenAPI description."""

from __future__ import annotations

import time

import pytest
import requests
import responses

from ssm_action.github import client as deployments
from ssm_action.github.client import Client, GitHubError, explain
from ssm_action.github.deployment import status_body
from tests.deployments.fake_github import schema_problems

REPO = "octo-org/octo-app"
API = "https://api.github.com"


def answer(status: int, body: str = "", **headers: str) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = body.encode()
    resp.headers.update(headers)
    return resp


@pytest.mark.parametrize("status, body, headers, expected", [
    (401, '{"message": "Bad credentials"}', {}, "GitHub refused the token (expired or invalid)"),
    (403, '{"message": "Resource not accessible by integration"}', {},
     "add `permissions: deployments: write` to the job (or the workflow)"),
    (403, '{"message": "Must have admin rights to Repository."}', {}, "needs the repo or repo_deployment scope"),
    (404, '{"message": "Not Found"}', {}, f"GitHub cannot find {REPO} with this token"),
    (409, '{"message": "Conflict merging main into topic."}', {}, "409 Conflict"),
    (422, '{"message": "Validation Failed", "errors": [{"resource": "Deployment", "code": "custom", '
          '"message": "No ref found for: 0123"}]}', {}, "check that the commit is pushed to octo-org/octo-app"),
    (403, '{"message": "API rate limit exceeded for installation."}',
     {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 600)}, "rate limit was reached"),
    (403, '{"message": "You have exceeded a secondary rate limit."}', {"Retry-After": "30"},
     "accepts requests again in 30 s"),
    (429, "", {}, "rate limit was reached"),
    (502, "<html>Bad gateway</html>", {}, "GitHub had a server error (502)"),
])
def test_each_error_has_its_own_message(status, body, headers, expected):
    error = explain(answer(status, body, **headers), REPO, API)
    assert expected in str(error)
    assert error.retryable == (status in (429, 502) or "rate limit" in body)


def test_what_github_said_is_kept():
    error = explain(answer(422, '{"message": "Validation Failed", "errors": [{"code": "custom", '
                                '"message": "No ref found for: 0123"}]}'), REPO, API)
    assert str(error).endswith("GitHub said: Validation Failed (No ref found for: 0123)")


def test_a_long_rate_limit_wait_is_not_waited_for():
    calls = []

    def limited():
        calls.append(1)
        raise GitHubError("rate limit", retryable=True, wait=3000)

    started = time.monotonic()
    with pytest.raises(GitHubError):
        deployments.retry(limited, seconds=5)
    assert calls == [1] and time.monotonic() - started < 1


def test_retries_back_off_and_stop_at_the_budget(monkeypatch):
    waits = []
    monkeypatch.setattr(deployments.time, "sleep", waits.append)
    clock = iter(range(0, 1000, 1))
    monkeypatch.setattr(deployments.time, "monotonic", lambda: next(clock))

    def failing():
        raise GitHubError("server error", retryable=True)

    with pytest.raises(GitHubError):
        deployments.retry(failing, seconds=20)
    assert waits == [1.0, 2.0, 4.0, 8.0]  # the next (16 s) would end past the budget


def test_a_202_is_not_taken_for_a_deployment(github):
    github.fail_next("create", 202, {"message": "Auto-merged main into topic-branch on deployment."})
    client = Client(github.url, REPO, "t")
    with pytest.raises(GitHubError, match="GitHub created no deployment \\(Auto-merged main"):
        client.create({"ref": "a" * 40, "environment": "production", "payload": {"deploy_id": "1-1"}}, 1)
    assert len(github.calls("create")) == 1


@responses.activate
def test_an_answer_that_is_not_json_names_the_api_url():
    """E.g. GITHUB_API_URL set to an Enterprise Server's web address instead of its API."""
    url = f"https://ghe.example.com/repos/{REPO}/deployments/7/statuses"
    responses.get(url, body="<html>sign in</html>", content_type="text/html")
    responses.get(url, json={"message": "a proxy's page"})  # JSON, but not the list GitHub sends
    client = Client("https://ghe.example.com", REPO, "t")
    for _ in range(2):
        with pytest.raises(GitHubError, match="is GITHUB_API_URL the API's address"):
            client.latest_state(7)


def test_status_descriptions_are_cut_to_140_characters():
    body = status_body("failure", "word " * 100, "https://x/run")
    assert len(body["description"]) == 140 and body["description"].endswith("...")


def test_the_schema_check_catches_bad_bodies():
    assert schema_problems("status", {"state": "in_progress", "log_url": "u"}) == []
    assert schema_problems("status", {"state": "done"})  # not an allowed state
    assert schema_problems("status", {"description": "no state"})  # state is required
    assert schema_problems("create", {"ref": "main", "logurl": "x"}) == ["unknown property 'logurl'"]
    assert schema_problems("create", {"ref": "main", "description": None}) == []  # nullable is understood
    assert schema_problems("create", {"ref": "main", "required_contexts": "none"})
