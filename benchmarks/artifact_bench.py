#!/usr/bin/env python3
"""Artifact delivery: pack time, bytes uploaded by a first and a second run, download+verify speed.

    .venv/bin/python benchmarks/artifact_bench.py [--runs N] [--mb 50] [--no-index-wheelhouse]

Prints (medians over N runs):
- pack time of examples/sample-app (this repository's HEAD, as working-directory), without
  and with a wheelhouse (pip download from the configured index; skipped with
  --no-index-wheelhouse), and of a generated app of --mb MB (half source-like text, half
  incompressible bytes, 500 files);
- bytes and PutObject calls of a first and a second publish of the same commit to moto S3
  over HTTP (target: zero on the second);
- the agent's download and verify of the incompressible --mb MB artifact from its presigned moto URL, in a
  separate process with the agent's zipapp (MB/s each, and together).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ssm_action import artifact, artifact_store, wheelhouse  # noqa: E402
from ssm_action.errors import ActionError  # noqa: E402
from tests.agent.agent_fixtures import agent_zipapp, git  # noqa: E402

BUCKET = "bench-artifacts"
AGENT_SIDE = """
import json, os, sys, time
from ssm_action.agent import artifact
url, sha256, size, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
final = os.path.join(folder, sha256 + ".zip")
started = time.perf_counter()
artifact.download(url, final + ".partial", size)
downloaded = time.perf_counter()
artifact.verify(final + ".partial", sha256, final)
print(json.dumps({"download": downloaded - started, "verify": time.perf_counter() - downloaded}))
"""


def median_time(action, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def big_app(folder: Path, mb: int, text: bool) -> str:
    """A git repo of ``mb`` MB in 500 files: half source-like text and half random bytes, or
    all random (an artifact of about ``mb`` MB)."""
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    each = mb * (1 << 20) // 500
    line = b"def handler(request):\n    return render(request, 'page.html', {'items': items})\n"
    for i in range(500):
        path = folder / ("src" if text and i % 2 else "assets") / f"f{i:03}.{'py' if text and i % 2 else 'bin'}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes((line * (each // len(line) + 1))[:each] if path.suffix == ".py" else os.urandom(each))
    (folder / "app.py").write_text("print('big')\n")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "big")
    return git(folder, "rev-parse", "HEAD")


def packing(tmp: Path, runs: int, mb: int, index: bool) -> artifact.Artifact:
    head = git(ROOT, "rev-parse", "HEAD")
    cases = [("sample app, no wheelhouse", ROOT, head, "examples/sample-app", None)]
    if index:
        cases.append(("sample app + wheelhouse (pip download)", ROOT, head, "examples/sample-app",
                      wheelhouse.WheelTarget("linux", "3.11")))
    for kind, text in (("half text", True), ("incompressible", False)):
        repo = tmp / kind.replace(" ", "-")
        cases.append((f"{mb} MB app ({kind})", repo, big_app(repo, mb, text), "", None))
    print(f"pack (git archive -> deterministic zip), median of {runs}:")
    big = None
    for n, (label, repo, sha, subdir, wheels) in enumerate(cases):
        try:
            seconds, art = median_time(lambda: artifact.pack(repo, sha, tmp / f"out{n}", subdir, wheels=wheels),
                                       runs)
        except ActionError as exc:
            print(f"  {label:<40} skipped: {exc.message}")
            continue
        assert isinstance(art, artifact.Artifact)
        print(f"  {label:<40} {seconds * 1000:8.0f} ms  {art.size / 1e6:7.2f} MB zip, {len(art.files)} files")
        big = art
    assert big is not None
    return big


def uploads(art: artifact.Artifact) -> artifact_store.Published:
    s3 = artifact_store.client("us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    puts: list[int] = []
    s3.meta.events.register("before-call.s3.PutObject", lambda **kw: puts.append(1))
    print(f"publish of the {art.size / 1e6:.1f} MB artifact to moto S3 over HTTP:")
    for run in ("first", "second"):
        started = time.perf_counter()
        before = len(puts)
        published = artifact_store.publish(s3, BUCKET, "bench", art)
        print(f"  {run} run: {published.bytes_sent:>10} bytes sent, {len(puts) - before} PutObject, "
              f"{(time.perf_counter() - started) * 1000:6.0f} ms")
    return published


def download(published: artifact_store.Published, art: artifact.Artifact, runs: int) -> None:
    rows = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            done = subprocess.run([sys.executable, "-c", AGENT_SIDE, published.url, art.sha256, str(art.size), folder],
                                  capture_output=True, text=True, check=True, env={"PYTHONPATH": str(agent_zipapp())})
            rows.append(json.loads(done.stdout))
    mb = art.size / 1e6
    down = statistics.median(r["download"] for r in rows)
    check = statistics.median(r["verify"] for r in rows)
    print(f"agent download + verify of {mb:.1f} MB from the presigned URL (separate process, median of {runs}):")
    print(f"  download {down * 1000:6.0f} ms  {mb / down:7.1f} MB/s")
    print(f"  verify   {check * 1000:6.0f} ms  {mb / check:7.1f} MB/s (sha256)")
    print(f"  together {(down + check) * 1000:6.0f} ms  {mb / (down + check):7.1f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--no-index-wheelhouse", action="store_true")
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(AWS_ENDPOINT_URL=f"http://{host}:{port}", AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            big = packing(Path(tmp), args.runs, args.mb, not args.no_index_wheelhouse)
            published = uploads(big)
            download(published, big, args.runs)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
