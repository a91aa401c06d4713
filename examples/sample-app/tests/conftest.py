"""Call the WSGI app directly: no server, no network."""

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest

import app as notes_app
from store import NoteStore


class Client:
    """A tiny WSGI test client."""

    def request(self, method, path, body=None):
        """Send one request; returns (status code, parsed JSON or None)."""
        data = json.dumps(body).encode() if body is not None else b""
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(data),
                   "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json"}
        setup_testing_defaults(environ)
        status = []
        chunks = notes_app.app(environ, lambda code, headers, exc_info=None: status.append(code))
        payload = b"".join(chunks)
        code = int(status[0].split()[0])
        is_json = payload.startswith(b"{")
        return code, json.loads(payload) if is_json else None


@pytest.fixture(name="client")
def fixture_client(monkeypatch):
    """A client over a fresh, empty store."""
    monkeypatch.setattr(notes_app, "notes", NoteStore())
    return Client()
