"""The agent's download (bounded, retried, resumed), verify (sha256 before anything changes) and
safe unpack (no absolute paths, '..', backslashes, links or duplicates; whole or absent)."""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path

import pytest

from ssm_action.agent import artifact
from ssm_action.agent.errors import StepError
from tests.artifact.flaky_http import Behaviour, serving

BODY = os.urandom(3 * artifact.CHUNK + 123)
SHA = hashlib.sha256(BODY).hexdigest()


def no_sleep(seconds: float) -> None:
    pass


def test_a_dropped_transfer_resumes_with_a_range_request(tmp_path: Path):
    behaviour = Behaviour(BODY, cut_after=[artifact.CHUNK + 10, 5])
    partial = tmp_path / "a.zip.partial"
    with serving(behaviour) as url:
        detail = artifact.download(url, str(partial), len(BODY), sleep=no_sleep)
    assert behaviour.ranges == ["", f"bytes={artifact.CHUNK + 10}-", f"bytes={artifact.CHUNK + 15}-"]
    assert detail.endswith("/bucket/artifact.zip (attempt 3)") and "secret" not in detail
    assert artifact.verify(str(partial), SHA, str(tmp_path / "a.zip")) == f"sha256 {SHA[:12]} ok"
    assert (tmp_path / "a.zip").read_bytes() == BODY and not partial.exists()


def test_retries_are_bounded_and_say_what_to_check(tmp_path: Path):
    behaviour = Behaviour(BODY, status=503)
    with serving(behaviour) as url, pytest.raises(StepError) as caught:
        artifact.download(url, str(tmp_path / "p"), len(BODY), attempts=3, sleep=no_sleep)
    assert len(behaviour.ranges) == 3
    assert "failed 3 times (last: HTTP 503)" in str(caught.value) and "secret" not in str(caught.value)


@pytest.mark.parametrize("status", [403, 404])
def test_a_refused_url_is_not_retried(tmp_path: Path, status: int):
    behaviour = Behaviour(BODY, status=status)
    with serving(behaviour) as url, pytest.raises(StepError, match=f"refused \\(HTTP {status}\\): the presigned"):
        artifact.download(url, str(tmp_path / "p"), len(BODY), sleep=no_sleep)
    assert len(behaviour.ranges) == 1


def test_a_larger_body_is_refused_at_the_size_limit(tmp_path: Path):
    partial = tmp_path / "p"
    with serving(Behaviour(BODY + b"more")) as url, pytest.raises(StepError, match="larger than the"):
        artifact.download(url, str(partial), len(BODY), sleep=no_sleep)
    assert not partial.exists()


def test_nothing_answering_is_a_timeout_bounded_failure(tmp_path: Path):
    with pytest.raises(StepError, match="failed 2 times"):
        artifact.download("http://127.0.0.1:9/x.zip", str(tmp_path / "p"), 10, timeout=2, attempts=2,
                          sleep=no_sleep)


@pytest.mark.parametrize("change", ["tampered", "wrong sha256"])
def test_a_tampered_artifact_or_a_wrong_sha256_is_refused(tmp_path: Path, change: str):
    source = tmp_path / "store" / "a.zip"
    source.parent.mkdir()
    source.write_bytes(BODY[:-1] + b"X" if change == "tampered" else BODY)
    expected = SHA if change == "tampered" else "0" * 64
    partial, final = tmp_path / "a.zip.partial", tmp_path / "a.zip"
    artifact.download(source.as_uri(), str(partial), len(BODY))
    with pytest.raises(StepError, match=f"not {expected}: it was changed after the upload"):
        artifact.verify(str(partial), expected, str(final))
    assert not partial.exists() and not final.exists()


def test_a_local_path_and_a_file_url_are_artifact_stores(tmp_path: Path):
    source = tmp_path / "store" / "a b.zip"
    source.parent.mkdir()
    source.write_bytes(BODY)
    for i, where in enumerate([str(source), source.as_uri()]):
        artifact.download(where, str(tmp_path / f"{i}.partial"), len(BODY))
        assert artifact.file_sha256(str(tmp_path / f"{i}.partial")) == SHA
    with pytest.raises(StepError, match="cannot read the artifact"):
        artifact.download(str(tmp_path / "missing.zip"), str(tmp_path / "x"), 1)
    with pytest.raises(StepError, match=f"has {len(BODY)} bytes, not the {len(BODY) + 1} the runner sent"):
        artifact.download(str(source), str(tmp_path / "short"), len(BODY) + 1)


def test_an_oversized_leftover_is_started_again(tmp_path: Path):
    source = tmp_path / "a.zip"
    source.write_bytes(BODY)
    partial = tmp_path / "a.zip.partial"
    partial.write_bytes(BODY + b"junk from another artifact")
    assert artifact.download(str(source), str(partial), len(BODY)).endswith(str(source))
    assert partial.read_bytes() == BODY


def zip_with(path: Path, *names: str, link: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ok.txt", "fine")
        for name in names:
            archive.writestr(zipfile.ZipInfo(name), "bad")
        if link:
            info = zipfile.ZipInfo(link)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("names, link, why", [
    (["/etc/cron.d/x"], "", "an absolute or non-portable path"),
    (["../../outside.txt"], "", "'..' path part"),
    (["a/../../b"], "", "'..' path part"),
    (["dir\\..\\x"], "", "non-portable"),
    (["C:/Windows/x"], "", "a drive or stream name"),
    (["ok.txt"], "", "a duplicate of 'ok.txt'"),
    ([], "data", "a symbolic link"),
])
def test_unsafe_members_are_refused_before_anything_is_written(tmp_path: Path, names, link, why):
    target = tmp_path / "releases" / "r1"
    target.parent.mkdir()
    with pytest.raises(StepError, match="refused$") as caught:
        artifact.unpack(str(zip_with(tmp_path / "a.zip", *names, link=link)), str(target))
    assert why in str(caught.value)
    assert os.listdir(target.parent) == [] and not (tmp_path / "outside.txt").exists()


@pytest.mark.parametrize("name", ["CON", "aux.py", "pkg/COM1", "nul.tar.gz", "LPT9.txt", "conout$", "notes.",
                                  "dir. /x", "trailing ", "a?b", "a|b"])
def test_windows_refuses_device_names_and_names_it_cannot_keep(name: str):
    """On a Windows server these open a device (aux.py is AUX), lose their trailing dot or space, or
    cannot be made; on Linux they are ordinary names."""
    assert "Windows reserves" in (artifact.unsafe_name(name, windows=True) or "")
    assert artifact.unsafe_name(name, windows=False) is None
    assert artifact.unsafe_name("console.py", True) is None and artifact.unsafe_name("com10", True) is None


def test_a_reserved_name_is_refused_by_a_windows_unpack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(artifact, "WINDOWS", True)  # the check a Windows server makes; the unpack itself is POSIX here
    target = tmp_path / "releases" / "r1"
    target.parent.mkdir()
    with pytest.raises(StepError, match="the artifact holds 'app/aux.py', a name Windows reserves"):
        artifact.unpack(str(zip_with(tmp_path / "a.zip", "app/aux.py")), str(target))
    assert os.listdir(target.parent) == []


def test_an_unpack_is_whole_or_absent(tmp_path: Path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("pkg/mod.py", "x = 1\n")
        info = zipfile.ZipInfo("bin/run.sh")
        info.create_system, info.external_attr = 3, 0o100755 << 16
        out.writestr(info, "#!/bin/sh\n")
    target = tmp_path / "r1"
    (tmp_path / "r1.partial" / "junk").mkdir(parents=True)  # left by a killed unpack
    assert artifact.unpack(str(archive), str(target)) == ["pkg/mod.py", "bin/run.sh"]
    assert sorted(os.listdir(tmp_path)) == ["a.zip", "r1"]
    assert os.stat(target / "bin" / "run.sh").st_mode & 0o777 == 0o755
    assert os.stat(target / "pkg" / "mod.py").st_mode & 0o777 == 0o644
    with pytest.raises(StepError, match="is not a zip file"):
        artifact.unpack(str(tmp_path / "r1" / "pkg" / "mod.py"), str(tmp_path / "r2"))
