"""A local OSV-compatible vulnerability service (POST /v1/query), for pip-audit's
`-s osv --osv-url URL`: pip-audit cannot reach the public services from our machines.

It knows one planted vulnerability: bottle 0.12.25 (the bad-app fixture pins it;
the sample app's bottle 0.13.4 is clean). Run it alone with
`python -m tests.gates.osv_server [PORT]`; it prints its URL.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLANTED = {
    "id": "PLANTED-2026-0001",
    "summary": "Planted vulnerability for the quality gates' tests",
    "aliases": ["CVE-2026-00001"],
    "affected": [{
        "package": {"name": "bottle", "ecosystem": "PyPI"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0.13.0"}]}],
        "versions": ["0.12.25"],
    }],
}
DATABASE = {("bottle", "0.12.25"): [PLANTED]}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        if self.path != "/v1/query":
            self.send_error(404)
            return
        query = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        vulns = DATABASE.get((query["package"]["name"], query["version"]), [])
        body = json.dumps({"vulns": vulns} if vulns else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


def start(port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/v1/query"


if __name__ == "__main__":
    server, url = start(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(url, flush=True)
    threading.Event().wait()
