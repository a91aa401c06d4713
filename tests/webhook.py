"""A stand-in for a Slack-compatible incoming webhook (replaces hooks.slack.com): a local HTTP server
that records each POST's JSON body and answers with the status a test sets."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Webhook:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.posts.append(json.loads(body))
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        """A URL with a secret in its path, as Slack's are."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/s3cr3tW3bh00kT0ken"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
