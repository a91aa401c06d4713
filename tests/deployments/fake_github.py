"""A local stand-in for GitHub's Deployments REST API, over real HTTP.

It keeps deployments and their statuses like GitHub does, records every request,
validates every request body against GitHub's own OpenAPI description (a slice
committed next to this file), and can be told to answer the next request of a
route with an error first.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from openapi_schema_validator import OAS30Validator

SLICE = json.loads((Path(__file__).with_name("openapi-deployments.json")).read_text(encoding="utf-8"))
OPERATIONS = {"create": "repos/create-deployment", "status": "repos/create-deployment-status"}
ROUTES = [
    ("create", "POST", re.compile(r"^/repos/[^/]+/[^/]+/deployments$")),
    ("list", "GET", re.compile(r"^/repos/[^/]+/[^/]+/deployments$")),
    ("status", "POST", re.compile(r"^/repos/[^/]+/[^/]+/deployments/(\d+)/statuses$")),
    ("statuses", "GET", re.compile(r"^/repos/[^/]+/[^/]+/deployments/(\d+)/statuses$")),
]


def schema_problems(operation: str, body: Any) -> list[str]:
    """What is wrong with a request body for one of the two operations, by GitHub's description.

    GitHub's schemas allow unknown properties (and GitHub ignores them), so a
    misspelt field would pass: unknown names are reported here too.
    """
    schema = SLICE["operations"][OPERATIONS[operation]]["requestBody"]
    problems = [error.message for error in OAS30Validator(schema).iter_errors(body)]
    if isinstance(body, dict):
        problems += [f"unknown property {name!r}" for name in body if name not in schema["properties"]]
    return problems


@dataclass
class Request:
    route: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    apply: bool = False  # do the work anyway (GitHub did it, then answered an error)


class FakeGitHub:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.deployments: dict[int, dict[str, Any]] = {}
        self.statuses: dict[int, list[dict[str, Any]]] = {}
        self.problems: list[str] = []
        self._queued: dict[str, list[Answer]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, route: str, status: int, body: Any = None, headers: dict[str, str] | None = None,
                  apply: bool = False) -> None:
        """Answer the next request of ``route`` (create, list, status, statuses) with this error."""
        self._queued.setdefault(route, []).append(Answer(status, body, headers or {}, apply))

    def heal(self) -> None:
        """Forget the errors still queued: GitHub is back."""
        self._queued.clear()

    def calls(self, route: str) -> list[Request]:
        return [r for r in self.requests if r.route == route]

    def states(self, deployment_id: int) -> list[str]:
        """Status states of a deployment, oldest first."""
        return [s["state"] for s in self.statuses.get(deployment_id, [])]

    def add_deployment(self, sha: str, environment: str, state: str) -> int:
        """A deployment made earlier (e.g. by a main step that was killed)."""
        deployment = self._create({"ref": sha, "environment": environment, "payload": {}})
        self._status(deployment["id"], {"state": state})
        return int(deployment["id"])

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        number = len(self.deployments) + 1
        self.deployments[number] = {"id": number, "sha": body["ref"], "ref": body["ref"], "task": "deploy",
                                    "environment": body.get("environment", "production"),
                                    "payload": body.get("payload", {}),
                                    "description": body.get("description")}
        self.statuses[number] = []
        return self.deployments[number]

    def _status(self, number: int, body: dict[str, Any]) -> dict[str, Any]:
        status = {"id": 1000 + sum(map(len, self.statuses.values())), **body}
        self.statuses[number].append(status)
        return status

    def _work(self, route: str, match: re.Match[str], request: Request) -> tuple[int, Any]:
        if route == "create":
            return 201, self._create(request.body)
        if route == "list":
            found = [d for d in self.deployments.values()
                     if d["sha"] == request.query.get("sha") and d["environment"] == request.query.get("environment")]
            return 200, sorted(found, key=lambda d: -d["id"])
        number = int(match.group(1))
        if number not in self.deployments:
            return 404, {"message": "Not Found"}
        if route == "status":
            return 201, self._status(number, request.body)
        return 200, list(reversed(self.statuses[number]))  # newest first, as GitHub lists them

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: Any) -> tuple[int, Any, dict]:
        parsed = urlparse(raw_path)
        for route, verb, pattern in ROUTES:
            match = pattern.match(parsed.path)
            if match and verb == method:
                break
        else:
            return 404, {"message": "Not Found"}, {}
        request = Request(route, method, parsed.path, {k: v[0] for k, v in parse_qs(parsed.query).items()},
                          headers, body)
        with self._lock:
            self.requests.append(request)
            if route in OPERATIONS:
                self.problems += [f"{route}: {p}" for p in schema_problems(route, body)]
            queued = self._queued.get(route)
            if queued:
                answer = queued.pop(0)
                if answer.apply:
                    self._work(route, match, request)
                return answer.status, answer.body, answer.headers
            status, data = self._work(route, match, request)
            return status, data, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, data, headers = fake.handle(self.command, self.path, dict(self.headers), body)
                payload = b"" if data is None else json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        return Handler
