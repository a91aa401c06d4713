"""STAND-IN for git.exe: a bridge to Linux git over loopback.

A Windows process cannot run a Linux binary and wait for it, so this sends its argv and
working directory to the test's bridge server (tests/windows/standins/__init__.py), which
runs Linux git with the Windows paths mapped, and relays output and exit code.
"""

import base64
import json
import os
import socket
import sys


def main(argv):
    host, port = os.environ["SSM_TEST_GIT_BRIDGE"].rsplit(":", 1)
    request = {"argv": argv, "cwd": os.getcwd(),
               "env": {k: v for k, v in os.environ.items() if k.startswith("GIT_")}}
    with socket.create_connection((host, int(port)), timeout=600) as sock:
        sock.sendall(json.dumps(request).encode("utf-8") + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data)
    sys.stdout.buffer.write(base64.b64decode(reply["out"]))
    sys.stderr.buffer.write(base64.b64decode(reply["err"]))
    return reply["code"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
