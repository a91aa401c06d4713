"""The note store."""

from store import NoteStore


def test_ids_are_never_reused():
    """A removed note's id is not given to a new note."""
    store = NoteStore()
    first = store.add("one")
    assert store.remove(first.note_id)
    assert store.add("two").note_id == first.note_id + 1
    assert len(store) == 1


def test_all_is_oldest_first():
    """Notes come back in creation order."""
    store = NoteStore()
    texts = ["a", "b", "c"]
    for text in texts:
        store.add(text)
    assert [note.text for note in store.all()] == texts
    assert store.get(99) is None
