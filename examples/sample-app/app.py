"""Notes: a small web API that ssm-deploy-action checks and deploys.

Run it with ``python app.py``; it listens on 127.0.0.1 and the port in PORT (8000).
"""

import os

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


def main():
    """Serve on 127.0.0.1:$PORT until stopped."""
    port = int(os.environ.get("PORT", "8000"))
    app.run(host="127.0.0.1", port=port, quiet=True)


if __name__ == "__main__":
    main()
