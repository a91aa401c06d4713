"""Polling with backoff, and the health URL's status from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import threading
import time
from typing import Iterator

import pytest

from ssm_action.agent.health import Answer, Rule, check_once, http_answer, judge, poll, wait_healthy
from tests.agent.agent_fixtures import free_port

ELSEWHERE = {"url": ""}  # /elsewhere's Location: another server's /200


class Statuses(http.server.BaseHTTPRequestHandler):
    """/200, /503, /redirect (to /200), /elsewhere (to another port), /ftp (to ftp://), /loop,
    /drip (a 200 whose 8-byte body comes one byte every 0.5 s): each answers what its path says."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - the http.server name
        moved = {"/redirect": "/200", "/elsewhere": ELSEWHERE["url"], "/loop": "/loop",
                 "/ftp": "ftp://127.0.0.1/200"}
        if self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "8")
            self.end_headers()
            for byte in b"dripping":
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.5)
            return
        if self.path in moved:
            self.send_response(302)
            self.send_header("Location", moved[self.path])
        else:
            self.send_response(int(self.path.strip("/")))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def serve() -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Statuses)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def base_url() -> Iterator[str]:
    server, url = serve()
    other, ELSEWHERE["url"] = serve()
    ELSEWHERE["url"] += "/200"
    yield url
    for each in (server, other):
        each.shutdown()
        each.server_close()


def test_one_check_judged(base_url: str):
    assert check_once(base_url + "/200", Rule(), 5) == (Answer(200, ""), "")
    assert check_once(base_url + "/503", Rule(), 5)[1] == "answered 503 (accepted: 2xx)"
    assert check_once(base_url + "/503", Rule("2xx,503"), 5)[1] == ""
    assert check_once(base_url + "/redirect", Rule(), 5)[0].status == 200
    nothing = f"http://127.0.0.1:{free_port()}/"  # nothing listens
    assert check_once(nothing, Rule(), 1) == (Answer(None, ""), "answered nothing (accepted: 2xx)")


@pytest.mark.parametrize("answer, rule, why", [
    (Answer(200, "ok"), Rule(), ""),
    (Answer(204, ""), Rule("200"), "answered 204 (accepted: 200)"),
    (Answer(302, "", "redirects more than 5 times"), Rule("200-399"),
     "answered 302, which redirects more than 5 times"),
    (Answer(None, "", "gave no whole answer in time"), Rule(), "gave no whole answer in time"),
    (Answer(200, '{"db": "down"}'), Rule(contains='"db": "up"'), "answered 200 without '\"db\": \"up\"' in its body"),
    (Answer(200, '{"db": "up"}'), Rule(contains='"db": "up"'), ""),
])
def test_the_judge_of_an_answer(answer: Answer, rule: Rule, why: str):
    assert judge(answer, rule) == why


def test_waiting_ends_at_the_first_healthy_answer_or_when_the_app_dies_or_at_the_deadline(base_url: str):
    started = time.monotonic()
    assert wait_healthy(base_url + "/200", Rule(), 10, lambda: True) == (Answer(200, ""), "")
    assert time.monotonic() - started < 5
    assert wait_healthy(base_url + "/200", Rule(), 10, lambda: False)[1] == ""  # healthy, but the caller sees it dead
    started = time.monotonic()
    answer, why = wait_healthy(base_url + "/503", Rule(), 0.6, lambda: True)
    assert (answer.status, why) == (503, "answered 503 (accepted: 2xx)") and time.monotonic() - started < 5


def test_an_answer_that_trickles_in_fails_at_the_deadline(base_url: str):
    """Each byte comes well within a read timeout; the whole answer does not come within 1 s."""
    answer = http_answer(base_url + "/drip", 1)
    assert answer.status is None and answer.problem.startswith("gave no whole answer in time")
    assert http_answer(base_url + "/drip", 30) == (200, "dripping", "", "")  # given the time, it passes


def test_a_redirect_elsewhere_is_not_followed_and_counts_as_no_answer(base_url: str):
    assert http_answer(ELSEWHERE["url"], 5).status == 200  # the other server is healthy
    elsewhere = http_answer(base_url + "/elsewhere", 5)
    assert elsewhere.status == 302 and elsewhere.problem == (
        "redirects to %s, another scheme, host or port (not followed)" % ELSEWHERE["url"])
    assert check_once(base_url + "/elsewhere", Rule(), 5)[1].startswith("answered 302, which redirects to ")
    ftp = http_answer(base_url + "/ftp", 5)
    assert ftp.status == 302 and "ftp://127.0.0.1/200, another scheme" in ftp.problem
    assert http_answer(base_url + "/loop", 5).problem == "redirects more than 5 times"


def test_poll_returns_as_soon_as_done_or_false_after_the_timeout():
    calls = []
    assert poll(lambda: calls.append(1) or len(calls) == 3, 10, 0.001, 0.001) is True
    assert len(calls) == 3
    assert poll(lambda: False, 0.05, 0.01, 0.02) is False
