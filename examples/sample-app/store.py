"""In-memory note storage, safe to use from the server's threads."""

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone


@dataclass(frozen=True)
class Note:
    """One note."""

    note_id: int
    text: str
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def as_dict(self):
        """The note as JSON-ready data."""
        return {"id": self.note_id, "text": self.text, "created": self.created.isoformat()}


class NoteStore:
    """Notes by id, with ids that are never reused."""

    def __init__(self):
        self._notes = {}
        self._next_id = 1
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._notes)

    def add(self, text):
        """Store a new note and return it."""
        with self._lock:
            note = Note(self._next_id, text)
            self._notes[note.note_id] = note
            self._next_id += 1
        return note

    def get(self, note_id):
        """The note with this id, or None."""
        return self._notes.get(note_id)

    def remove(self, note_id):
        """Delete a note; True when it existed."""
        with self._lock:
            return self._notes.pop(note_id, None) is not None

    def all(self):
        """Every note, oldest first."""
        return sorted(self._notes.values(), key=lambda note: note.note_id)
