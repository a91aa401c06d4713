"""Notes: a small web API that ssm-deploy-action checks and deploys.

Serve it with waitress (``waitress-serve --listen=127.0.0.1:8000 app:app``, as the
deploy's ``app-command`` does) or run ``python app.py`` (127.0.0.1, the port in PORT).

Its configuration comes from the environment: ``NOTES_MODE`` (plain, from app-env)
and the secrets ``NOTES_API_KEY`` and ``DATABASE_URL`` (from app-secrets, read on the
server). /health shows that they arrived without showing them: the key's fingerprint
and the database's host, never a password.
"""

import _thread
import hashlib
import os
import threading
import time
from urllib.parse import urlsplit

from bottle import Bottle, HTTPError, request, response

from store import NoteStore

__version__ = "1.0.0"

app = Bottle()
notes = NoteStore()


def fingerprint(value):
    """The first 12 hex digits of a value's SHA-256 ("" when unset): which key, not the key."""
    return hashlib.sha256(value.encode()).hexdigest()[:12] if value else ""


def database_host(url):
    """The host, port and database of a URL, without its user and password."""
    parts = urlsplit(url)
    return (parts.hostname or "") + (f":{parts.port}" if parts.port else "") + parts.path if url else ""


@app.get("/health")
def health():
    """Liveness for the deploy's health check: 200 with the running version and its configuration."""
    return {"status": "ok", "version": __version__, "notes": len(notes),
            "mode": os.environ.get("NOTES_MODE", "development"),
            "api_key": fingerprint(os.environ.get("NOTES_API_KEY", "")),
            "database": database_host(os.environ.get("DATABASE_URL", ""))}


@app.get("/notes")
def list_notes():
    """Every note, oldest first."""
    return {"notes": [note.as_dict() for note in notes.all()]}


@app.post("/notes")
def add_note():
    """Create a note from a JSON body: {"text": "..."}."""
    body = request.json or {}
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise HTTPError(400, "a JSON body with a non-empty 'text' is required")
    response.status = 201
    return notes.add(text.strip()).as_dict()


@app.get("/notes/<note_id:int>")
def get_note(note_id):
    """One note, or 404."""
    note = notes.get(note_id)
    if note is None:
        raise HTTPError(404, f"no note {note_id}")
    return note.as_dict()


@app.delete("/notes/<note_id:int>")
def delete_note(note_id):
    """Remove a note; 204 when it existed, 404 otherwise."""
    if not notes.remove(note_id):
        raise HTTPError(404, f"no note {note_id}")
    response.status = 204


def stop_when_asked(path=None, interval=0.2):
    """Windows' graceful stop: when the deploy creates the file in DEPLOY_STOP_FILE,
    interrupt the main thread (the server returns and the app exits cleanly).

    Returns the watching thread, or None when no stop file is named (Linux: SIGTERM)."""
    path = path or os.environ.get("DEPLOY_STOP_FILE")
    if not path:
        return None

    def watch():
        while not os.path.exists(path):
            time.sleep(interval)
        _thread.interrupt_main()

    thread = threading.Thread(target=watch, name="stop-request", daemon=True)
    thread.start()
    return thread


def main():
    """Serve on 127.0.0.1:$PORT until stopped."""
    port = int(os.environ.get("PORT", "8000"))
    stop_when_asked()
    app.run(host="127.0.0.1", port=port, quiet=True)


if __name__ == "__main__":
    main()
