"""The artifact in moto S3 over HTTP: stored once by content address (a re-run sends nothing),
presigned, and downloaded by the AGENT's module over real HTTP under Python 3.8."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ssm_action import artifact_store
from ssm_action.errors import ActionError
from tests.agent.agent_fixtures import agent_zipapp
from tests.artifact.artifact_fixtures import ARTIFACT
from tests.artifact.artifact_fixtures import PY38, Project
from tests.artifact.conftest import BUCKET


def count_calls(client, operation: str) -> list[str]:
    """Every ``operation`` call this client makes from now on (botocore's own event)."""
    calls: list[str] = []
    client.meta.events.register(f"before-call.s3.{operation}", lambda **kw: calls.append(operation))
    return calls


def test_stored_once_by_content_address_a_rerun_uploads_nothing(s3, project: Project, pack):
    art = pack(project.commit("v1"))
    puts, heads = count_calls(s3, "PutObject"), count_calls(s3, "HeadObject")
    first = artifact_store.publish(s3, BUCKET, "deploys", art)
    assert (first.uploaded, first.bytes_sent, len(puts), len(heads)) == (True, art.size, 1, 1)
    assert first.key == f"deploys/artifacts/{art.commit}-{art.sha256}.zip"
    stored = s3.get_object(Bucket=BUCKET, Key=first.key)
    assert stored["Body"].read() == art.path.read_bytes()
    assert stored["Metadata"] == {"sha256": art.sha256, "commit": art.commit}
    again = artifact_store.publish(s3, BUCKET, "deploys", pack(art.commit))  # packed anew: same bytes
    assert (again.uploaded, again.bytes_sent, len(puts), len(heads)) == (False, 0, 1, 2)
    assert again.key == first.key


def test_an_object_of_another_size_under_the_key_is_replaced(s3, project: Project, pack):
    art = pack(project.commit("v1"))
    s3.put_object(Bucket=BUCKET, Key=art.key("p"), Body=b"truncated")
    assert artifact_store.publish(s3, BUCKET, "p", art).uploaded
    assert s3.head_object(Bucket=BUCKET, Key=art.key("p"))["ContentLength"] == art.size


def test_a_refused_upload_names_the_permission(s3, project: Project, pack):
    art = pack(project.commit("v1"), wheelhouse=False)
    with pytest.raises(ActionError) as caught:
        artifact_store.publish(s3, "no-such-bucket", "deploys", art)
    assert caught.value.title == "PutObject failed"
    assert "s3:PutObject and s3:GetObject on arn:aws:s3:::no-such-bucket/deploys/artifacts/*" in caught.value.message
    with pytest.raises(ValueError):
        artifact_store.publish(s3, BUCKET, "deploys", art, expires=8 * 24 * 3600)


AGENT_SIDE = textwrap.dedent('''
    import os, sys
    from ssm_action.agent import artifact
    url, sha256, size, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    zip_path = os.path.join(folder, sha256 + ".zip")
    print(artifact.download(url, zip_path + ".partial", size))
    print(artifact.verify(zip_path + ".partial", sha256, zip_path))
    print(sorted(artifact.unpack(zip_path, os.path.join(folder, "release"))))
    print(sys.version_info[:2])
''')


@pytest.mark.parametrize("python", [PY38, sys.executable], ids=["py3.8", "py3"])
def test_the_agent_downloads_the_presigned_url_over_http(s3, project: Project, pack, tmp_path, python):
    art = pack(project.commit("v1"))
    published = artifact_store.publish(s3, BUCKET, "deploys", art, expires=300)
    assert "X-Amz-Signature=" in published.url and "X-Amz-Expires=300" in published.url
    done = subprocess.run([python, "-c", AGENT_SIDE, published.url, art.sha256, str(art.size), str(tmp_path)],
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(agent_zipapp(ARTIFACT))})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "X-Amz" not in done.stdout  # the signature is never printed
    assert lines[0].endswith(f"from {published.url.split('?')[0]}")
    assert lines[1] == f"sha256 {art.sha256[:12]} ok"
    assert (tmp_path / "release" / "app.py").read_bytes() == (project.repo / "app.py").read_bytes()
    assert ".wheelhouse/tinydep-1.0-py3-none-any.whl" in lines[2]
    assert lines[3] == ("(3, 8)" if python == PY38 else str(sys.version_info[:2]))
