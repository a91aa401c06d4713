"""The agent's files: atomic writes, JSON records, hashes, pruning."""

from __future__ import annotations

from pathlib import Path

from ssm_action.agent import files


def test_keep_newest(tmp_path: Path):
    names = [f"app-2024010{i}T000000Z-{i}-1.zip" for i in range(1, 6)]
    for name in names + ["other.zip"]:
        (tmp_path / name).write_text("z")
    pattern = r"app-\d{8}T\d{6}Z-.+\.zip"
    spare = str(tmp_path / names[0])
    removed = files.keep_newest(str(tmp_path), pattern, 2, spare=[spare])
    assert sorted(Path(p).name for p in removed) == names[1:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names[0], *names[3:],
                                                                 "other.zip"])


def test_state_records_are_json_objects_written_whole(tmp_path: Path):
    records = files.StateDir(str(tmp_path))
    assert records.read("app.json") == {}
    records.write("app.json", {"pid": 7})
    assert records.read("app.json") == {"pid": 7}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.json"]  # no temporary left
    (tmp_path / "list.json").write_text("[1]")
    assert records.read("list.json") == {}  # not an object: as if absent
    records.remove("app.json")
    records.remove("app.json")  # already gone: fine
    assert not (tmp_path / "app.json").exists()


def test_file_hash(tmp_path: Path):
    (tmp_path / "r.txt").write_bytes(b"x")
    assert files.file_hash(str(tmp_path / "r.txt")) == (
        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")
    assert files.file_hash(str(tmp_path / "missing.txt")) == ""
