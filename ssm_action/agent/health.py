"""Waiting: polling with backoff, and the health URL's answer within a deadline."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import urllib.parse
from typing import Callable, NamedTuple, Optional, Tuple

BODY_LIMIT = 64 * 1024  # bytes of the answer searched for health_contains
REDIRECTS = 5  # redirects followed within the health URL's own scheme, host and port
MOVED = (301, 302, 303, 307, 308)
LATE = "gave no whole answer in time (a slow or trickling answer fails)"


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
            conn.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]

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


def http_status(url: str, timeout: float) -> Optional[int]:
    """The HTTP status of a GET that counts (same-origin redirects followed), else None."""
    answer = http_answer(url, timeout)
    return None if answer.problem else answer.status
