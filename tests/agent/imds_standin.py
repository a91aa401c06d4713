"""A stand-in for the EC2 instance metadata service (IMDSv2 only), on 127.0.0.1.

It replaces http://169.254.169.254 for the agent's ``aws`` module: a session token
from ``PUT /latest/api/token`` (the TTL header required) must come with every GET,
else 401 as a real instance with ``HttpTokens=required`` answers. It serves one
role's credentials (set ``credentials`` to moto STS ones), the placement region
and the identity document. ``requests`` records (method, path, status).
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CREDS_PATH = "/latest/meta-data/iam/security-credentials/"


class ImdsStandIn:
    def __init__(self, region: str = "us-east-1", account: str = "123456789012") -> None:
        self.region = region
        self.account = account
        self.role: str | None = "app-role"
        self.credentials: dict[str, str] = {}
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, str, int]] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                if self.path != "/latest/api/token" or not self.headers.get(
                        "X-aws-ec2-metadata-token-ttl-seconds"):
                    return self.answer(400, "")
                token = secrets.token_urlsafe(16)
                standin.tokens.add(token)
                self.answer(200, token)

            def do_GET(self) -> None:
                if self.headers.get("X-aws-ec2-metadata-token") not in standin.tokens:
                    return self.answer(401, "")  # IMDSv1 refused
                status, body = standin.route(self.path)
                self.answer(status, body)

            def answer(self, status: int, body: str) -> None:
                standin.requests.append((self.command, self.path, status))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def route(self, path: str) -> tuple[int, str]:
        if path == CREDS_PATH:
            return (200, self.role) if self.role else (404, "")
        if self.role and path == CREDS_PATH + self.role:
            return 200, json.dumps({"Code": "Success", "Type": "AWS-HMAC",
                                    "LastUpdated": "2026-12-01T00:00:00Z",
                                    "Expiration": "2026-12-01T06:00:00Z", **self.credentials})
        if path == "/latest/meta-data/placement/region":
            return 200, self.region
        if path == "/latest/dynamic/instance-identity/document":
            return 200, json.dumps({"accountId": self.account, "region": self.region,
                                    "instanceId": "i-0123456789abcdef0"})
        return 404, ""

    def __enter__(self) -> "ImdsStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
