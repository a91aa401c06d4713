"""Health, judged in one place: the health URL's answer within a deadline, the judge of that
answer (deploy, verify, rollback and status all ask ``judge``), and waiting with one backoff."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import urllib.parse
from typing import Callable, List, NamedTuple, Optional, Tuple

from ssm_action.contract.checks import status_ok

BODY_LIMIT = 64 * 1024  # bytes of the answer searched for health_contains
REDIRECTS = 5  # redirects followed within the health URL's own scheme, host and port
MOVED = (301, 302, 303, 307, 308)
LATE = "gave no whole answer in time (a slow or trickling answer fails)"
LAST_TRY = 0.5  # seconds the last GET may take, at the deadline
EACH_TRY = 5.0  # seconds one GET may take before the next is tried


class Answer(NamedTuple):
    status: Optional[int]  # None: no (whole) answer
    body: str
    problem: str = ""  # why the answer cannot count, whatever its status ("" when it can)
    location: str = ""  # where a redirect points


def poll(done: Callable[[], bool], timeout: float, delay: float, cap: float) -> bool:
    """Call ``done`` until it is true (True) or ``timeout`` passes (False), backing off."""
    deadline = time.monotonic() + timeout
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(delay, left))
        delay = min(delay * 2, cap)
    return True


def _get(url: str, deadline: float) -> Answer:
    """One GET, ended at ``deadline``: a socket timeout bounds each read, not the whole answer,
    so an endpoint that sends a byte now and then would hold the check for ever. At the
    deadline a timer shuts the socket, which ends a blocked read at once."""
    parts = urllib.parse.urlsplit(url)
    left = max(deadline - time.monotonic(), 0.01)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "", parts.port, timeout=left)  # http.client uses no proxy
    late = threading.Event()

    def cut() -> None:
        late.set()
        with contextlib.suppress(OSError, AttributeError):  # closed meanwhile
            conn.sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(left, cut)
    timer.start()
    try:
        conn.request("GET", urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, "")))
        response = conn.getresponse()
        body = response.read(BODY_LIMIT).decode("utf-8", "replace")
        if not late.is_set():
            return Answer(response.status, body, location=response.getheader("Location") or "")
    except (http.client.HTTPException, OSError, ValueError):
        pass
    finally:
        timer.cancel()
        conn.close()
    return Answer(None, "", LATE if late.is_set() else "")


def http_answer(url: str, timeout: float) -> Answer:
    """The answer to a GET of ``url`` within ``timeout`` seconds in all. Redirects are followed
    only within the URL's own scheme, host and port: an answer from elsewhere proves nothing."""
    deadline = time.monotonic() + timeout
    for _ in range(REDIRECTS + 1):
        answer = _get(url, deadline)
        if answer.status not in MOVED:
            return answer
        target = urllib.parse.urljoin(url, answer.location)
        if not answer.location or _origin(target) != _origin(url):
            return answer._replace(problem="redirects to %s, another scheme, host or port (not followed)" % target)
        url = target
    return answer._replace(problem="redirects more than %d times" % REDIRECTS)


def _origin(url: str) -> Tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class Rule(NamedTuple):
    """What a healthy answer is: the parameters health_status and health_contains."""

    accepted: str = "2xx"  # 200,204 or 2xx or 200-399
    contains: str = ""  # text the body must hold


def judge(answer: Answer, rule: Rule) -> str:
    """Why ``answer`` is not healthy by ``rule`` ("" when it is)."""
    status = answer.status
    if answer.problem:  # too slow, or sent elsewhere: whatever its status, no proof of health
        return "answered %s, which %s" % (status, answer.problem) if status else answer.problem
    if status is None or not status_ok(rule.accepted, status):
        return "answered %s (accepted: %s)" % (status or "nothing", rule.accepted)
    if rule.contains and rule.contains not in answer.body:
        return "answered %d without %r in its body" % (status, rule.contains)
    return ""


def check_once(url: str, rule: Rule, timeout: float) -> Tuple[Answer, str]:
    """One GET of ``url``, judged: the answer and why it fails ("" when healthy)."""
    answer = http_answer(url, timeout)
    return answer, judge(answer, rule)


def wait_healthy(url: str, rule: Rule, timeout: float, alive: Callable[[], bool]) -> Tuple[Answer, str]:
    """Ask ``url`` until a healthy answer comes while ``alive()``, the app dies, or ``timeout`` passes
    (backing off as ``poll`` does): the last answer and why it failed ("" when healthy). Each GET ends
    by the deadline (the last gets LAST_TRY), so a trickling answer cannot hold the wait."""
    deadline = time.monotonic() + timeout
    last: List[Tuple[Answer, str]] = []

    def settled() -> bool:
        left = deadline - time.monotonic()
        last[:] = [check_once(url, rule, max(LAST_TRY, min(EACH_TRY, left)))]
        return not alive() or not last[0][1]  # dead, or healthy while alive

    poll(settled, timeout, 0.05, 2.0)
    return last[0]
