"""A stand-in for an Application Load Balancer's data path, to count the requests a deploy fails.

It replaces the ALB's routing, nothing else: each request goes, round robin, to
one of the targets that moto's ELBv2 reports registered and ``healthy`` in the
target group (DescribeTargetHealth over HTTP, read again every 50 ms); 503 when
there is none, 502 when the target refuses or drops the connection, as an ALB
answers. Client sends GET requests through it without pause and counts every
answer that is not a 200.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from http.client import HTTPException
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3

REFRESH = 0.05  # seconds between reads of the target health


class LoadBalancer:
    def __init__(self, target_group_arn: str, ports: dict[str, int]):
        self.arn = target_group_arn
        self.ports = ports  # instance id -> the port its app listens on
        self.healthy: list[int] = []
        self.turn = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.refused: dict[int, list[float]] = {}  # port -> when a request to it failed (monotonic)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __enter__(self) -> LoadBalancer:
        self.refresh()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        threading.Thread(target=self.refresher, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def refresh(self) -> None:
        elb = boto3.client("elbv2", region_name="us-east-1")
        health = elb.describe_target_health(TargetGroupArn=self.arn)["TargetHealthDescriptions"]
        ports = [self.ports[d["Target"]["Id"]] for d in health if d["TargetHealth"]["State"] == "healthy"]
        with self.lock:
            self.healthy = ports

    def refresher(self) -> None:
        while not self.stopping.wait(REFRESH):
            self.refresh()

    def gaps(self) -> dict[int, float]:
        """Per target, seconds from its first failed request to its last: the restart gap clients saw."""
        return {port: times[-1] - times[0] for port, times in self.refused.items()}

    def pick(self) -> int | None:
        with self.lock:
            if not self.healthy:
                return None
            self.turn += 1
            return self.healthy[self.turn % len(self.healthy)]

    def handler(self) -> type[BaseHTTPRequestHandler]:
        balancer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                port = balancer.pick()
                if port is None:
                    return self.answer(503, b"no healthy target")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{self.path}", timeout=5) as got:
                        return self.answer(got.status, got.read())
                except urllib.error.HTTPError as exc:
                    return self.answer(exc.code, b"")
                except (OSError, HTTPException):
                    balancer.refused.setdefault(port, []).append(time.monotonic())
                    return self.answer(502, b"target refused or dropped the connection")

            def answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


class Client(threading.Thread):
    """Requests through the load balancer, one after the other, until stopped."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.ok = 0
        self.failed: list[str] = []
        self.bodies: set[str] = set()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as got:
                    self.bodies.add(got.read().decode())
                    self.ok += 1
            except urllib.error.HTTPError as exc:
                self.failed.append(f"{exc.code} {exc.read().decode(errors='replace')}")
            except (OSError, HTTPException) as exc:
                self.failed.append(repr(exc))
            time.sleep(0.005)

    def stop(self) -> Client:
        self.stopping.set()
        self.join(10)
        return self
