"""Waiting: polling with backoff, and the health URL's HTTP status."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from typing import Callable, Optional, Tuple

BODY_LIMIT = 64 * 1024  # bytes of the answer searched for health_contains


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


def http_answer(url: str, timeout: float) -> Tuple[Optional[int], str]:
    """The HTTP status and body start of a GET (redirects followed); None when nothing answers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(url, timeout=timeout) as response:  # nosec B310 # http(s) checked
            return int(response.status), response.read(BODY_LIMIT).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(BODY_LIMIT).decode("utf-8", "replace")
    except (urllib.error.URLError, http.client.HTTPException, OSError):
        return None, ""


def http_status(url: str, timeout: float) -> Optional[int]:
    """The HTTP status of a GET (redirects followed), or None when nothing answers."""
    return http_answer(url, timeout)[0]
