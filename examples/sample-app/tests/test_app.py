"""The HTTP API."""

import app as notes_app


def test_health_reports_the_version(client, monkeypatch):
    """/health answers 200 with the version, and the configuration without its secrets."""
    for name in ("NOTES_MODE", "NOTES_API_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    code, body = client.request("GET", "/health")
    assert code == 200
    assert body == {"status": "ok", "version": notes_app.__version__, "notes": 0, "mode": "development",
                    "api_key": "", "database": ""}


def test_health_shows_which_secrets_arrived_not_their_values(client, monkeypatch):
    """The key's fingerprint and the database's host; no password, no key."""
    monkeypatch.setenv("NOTES_API_KEY", "k-123")
    monkeypatch.setenv("DATABASE_URL", "postgresql://notes:pw-456@db.internal:5432/notes")
    body = client.request("GET", "/health")[1]
    assert (body["api_key"], body["database"]) == (notes_app.fingerprint("k-123"), "db.internal:5432/notes")
    assert "pw-456" not in str(body) and "k-123" not in str(body)


def test_add_then_list_and_get(client):
    """A created note can be listed and fetched."""
    code, created = client.request("POST", "/notes", {"text": "  buy milk "})
    assert code == 201
    assert created["text"] == "buy milk"
    assert client.request("GET", "/notes")[1]["notes"] == [created]
    assert client.request("GET", f"/notes/{created['id']}") == (200, created)


def test_add_rejects_an_empty_text(client):
    """A note needs text."""
    assert client.request("POST", "/notes", {"text": "   "})[0] == 400
    assert client.request("POST", "/notes", ["not", "an", "object"])[0] == 400


def test_unknown_note_is_404(client):
    """Missing ids are 404 for reads and deletes."""
    assert client.request("GET", "/notes/42")[0] == 404
    assert client.request("DELETE", "/notes/42")[0] == 404


def test_delete(client):
    """A deleted note is gone."""
    _, created = client.request("POST", "/notes", {"text": "temporary"})
    assert client.request("DELETE", f"/notes/{created['id']}")[0] == 204
    assert client.request("GET", f"/notes/{created['id']}")[0] == 404


def test_main_serves_on_the_port_from_the_environment(monkeypatch):
    """python app.py listens on 127.0.0.1:$PORT."""
    calls = []
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setattr(notes_app.app, "run", lambda **kwargs: calls.append(kwargs))
    notes_app.main()
    assert calls == [{"host": "127.0.0.1", "port": 8123, "quiet": True}]


def test_a_stop_request_file_interrupts_the_main_thread(tmp_path, monkeypatch):
    """The file named in DEPLOY_STOP_FILE appearing ends the app as Ctrl+C would."""
    request = tmp_path / "stop-request"
    monkeypatch.setenv("DEPLOY_STOP_FILE", str(request))
    interrupted = []
    monkeypatch.setattr(notes_app._thread, "interrupt_main", lambda: interrupted.append(True))
    thread = notes_app.stop_when_asked(interval=0.01)
    request.write_text("{}")
    thread.join(5)
    assert interrupted == [True] and not thread.is_alive()


def test_no_stop_request_file_no_watcher(monkeypatch):
    """Without DEPLOY_STOP_FILE (Linux, SIGTERM) nothing is watched."""
    monkeypatch.delenv("DEPLOY_STOP_FILE", raising=False)
    assert notes_app.stop_when_asked() is None
