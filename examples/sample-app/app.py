"""Notes: a small web API that ssm-deploy-action checks and deploys.

Run it with ``python app.py``; it listens on 127.0.0.1 and the port in PORT (8000).
"""

import _thread
import os
import threading
import time

from bottle import Bottle, HTTPError, request, response

from store import NoteStore

__version__ = "1.0.0"

app = Bottle()
notes = NoteStore()


@app.get("/health")
def health():
    """Liveness for the deploy's health check: 200 with the running version."""
    return {"status": "ok", "version": __version__, "notes": len(notes)}


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
