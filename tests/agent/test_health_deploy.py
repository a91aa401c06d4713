"""The health check in a real deploy: a deadline for the whole answer, and no redirect elsewhere.

A version whose health answer trickles in (one byte every 2 s, each well within a read
timeout) or that redirects to a healthy server elsewhere is not healthy: it is rolled back.
"""

from __future__ import annotations

import http.server
import threading
from typing import Iterator

import pytest

from ssm_action.contract import ExitCode
from tests.agent.agent_fixtures import Server

# app.py of a version whose /health answers as HEALTH says: "drip" or a Location to redirect to.
APP = '''import os, time
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
HEALTH = {health!r}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if HEALTH == "drip":
            self.send_response(200)
            self.send_header("Content-Length", "6")
            self.end_headers()
            for byte in b"health":
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(2)
            return
        self.send_response(302)
        self.send_header("Location", HEALTH)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True


Server(("127.0.0.1", int(os.environ["APP_PORT"])), Handler).serve_forever()
'''


class Healthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server name
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def elsewhere() -> Iterator[str]:
    """A healthy server on another port: what a redirect must not stand in for."""
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{other.server_address[1]}/ok"
    other.shutdown()
    other.server_close()


def test_a_health_answer_that_trickles_in_fails_at_the_timeout_and_rolls_back(server: Server):
    v1 = server.commit("v1")
    assert server.deploy(v1).code == ExitCode.OK
    run = server.deploy(server.commit("v2", files={"app.py": APP.format(health="drip")}), health_timeout=3)
    assert run.code == ExitCode.ROLLED_BACK, run.out + run.err
    assert run.result["error"] == (
        "verify: %s gave no whole answer in time (a slow or trickling answer fails) for 3s: check the app log"
        % server.url)
    assert server.get() == (200, "v1 tinydep-1.0") and run.result["running_sha"] == v1


def test_a_redirect_to_another_port_is_not_healthy(server: Server, elsewhere: str):
    v1 = server.commit("v1")
    assert server.deploy(v1).code == ExitCode.OK
    run = server.deploy(server.commit("v2", files={"app.py": APP.format(health=elsewhere)}), health_timeout=1)
    assert run.code == ExitCode.ROLLED_BACK, run.out + run.err
    assert run.result["error"] == (
        "verify: %s answered 302, which redirects to %s, another scheme, host or port (not followed) for 1s: "
        "check the app log" % (server.url, elsewhere))
    assert server.get() == (200, "v1 tinydep-1.0") and run.result["running_sha"] == v1
