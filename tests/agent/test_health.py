"""Polling with backoff, and the health URL's status from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import threading
from typing import Iterator

import pytest

from ssm_action.agent.health import http_status, poll
from tests.agent.agent_fixtures import free_port


class Statuses(http.server.BaseHTTPRequestHandler):
    """/200, /503, /redirect (to /200): each answers what its path says."""

    def do_GET(self):  # noqa: N802 - the http.server name
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/200")
        else:
            self.send_response(int(self.path.strip("/")))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def base_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Statuses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_status(base_url: str):
    assert http_status(base_url + "/200", 5) == 200
    assert http_status(base_url + "/503", 5) == 503
    assert http_status(base_url + "/redirect", 5) == 200
    assert http_status(f"http://127.0.0.1:{free_port()}/", 1) is None  # nothing listens


def test_poll_returns_as_soon_as_done_or_false_after_the_timeout():
    calls = []
    assert poll(lambda: calls.append(1) or len(calls) == 3, 10, 0.001, 0.001) is True
    assert len(calls) == 3
    assert poll(lambda: False, 0.05, 0.01, 0.02) is False
