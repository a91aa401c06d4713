"""STAND-IN for S3's GET of a presigned URL: a local HTTP server that serves one body with Range
support, and can cut the first responses short, answer an error status, or send other bytes."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Behaviour:
    body: bytes
    cut_after: list[int] = field(default_factory=list)  # per request, in order: bytes sent before dropping
    status: int = 200  # an error status for every request when not 200
    ranges: list[str] = field(default_factory=list)  # the Range header of each request ("" if none)


@contextmanager
def serving(behaviour: Behaviour) -> Iterator[str]:
    """The server's URL for ``behaviour`` (with a query, as a presigned URL has)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            header = self.headers.get("Range", "")
            behaviour.ranges.append(header)
            if behaviour.status != 200:
                self.send_error(behaviour.status)
                return
            start = int(re.fullmatch(r"bytes=(\d+)-", header).group(1)) if header else 0
            body = behaviour.body[start:]
            self.send_response(206 if header else 200)
            if header:
                self.send_header("Content-Range", f"bytes {start}-{len(behaviour.body) - 1}/{len(behaviour.body)}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            cut = behaviour.cut_after.pop(0) if behaviour.cut_after else None
            self.wfile.write(body if cut is None else body[:cut])
            if cut is not None:
                self.wfile.flush()
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/bucket/artifact.zip?X-Amz-Signature=secret"
    finally:
        server.shutdown()
        server.server_close()
