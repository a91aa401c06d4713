#!/usr/bin/env python3
"""Deploy time, source git vs source artifact, end to end through the local transport.

    .venv/bin/python benchmarks/delivery_bench.py [--runs N] [--mb 50]

Each deploy is ``python -m ssm_action --mode deploy --transport local`` as a process (inputs
checked, the plan, for artifact: pack + HEAD/PUT to moto S3 over HTTP; then the agent), to a
fresh "server" folder for the first deploy, then redeploys of new commits (the median of
--runs). Apps: the test suite's sample app (a real HTTP app, one requirement from a local
wheel folder, health check on 127.0.0.1) and the same app with --mb MB more (500 files, half
source-like text, half incompressible). The servers reach the same local wheel folder in
both modes (with artifact: the wheelhouse, no index). Also prints, for the artifact, the bytes
uploaded by the first deploy of a commit and by a re-run of the same commit (target: zero).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.agent.agent_fixtures import free_port, kill_processes_under, uv_folder  # noqa: E402
from tests.artifact.artifact_fixtures import Project, pip_index_env, wheel_folder  # noqa: E402

BUCKET = "bench-artifacts"
UPLOADED = re.compile(r"uploaded ([\d,]+) bytes|(nothing uploaded)")


def add_bulk(project: Project, mb: int) -> None:
    each = mb * (1 << 20) // 500
    line = b"def handler(request):\n    return render(request, 'page.html', {'items': items})\n"
    for i in range(500):
        path = project.repo / ("src" if i % 2 else "assets") / f"f{i:03}.{'py' if i % 2 else 'bin'}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes((line * (each // len(line) + 1))[:each] if i % 2 else os.urandom(each))


def deploy(project: Project, server: Path, source: str, env: dict[str, str], port: int) -> tuple[float, int | None]:
    """Seconds of one deploy, and (artifact) the bytes it uploaded."""
    argv = [sys.executable, "-m", "ssm_action", "--mode", "deploy", "--transport", "local", "--source", source,
            "--working-directory", str(project.repo), "--environment", "bench", "--create-deployment", "false",
            "--app-directory", str(server / "app"), "--health-check-url", f"http://127.0.0.1:{port}/health",
            "--cache-directory", str(server / "cache"), "--server-installer", "uv"]
    argv += ["--wheelhouse", "true", "--s3-bucket", BUCKET] if source == "artifact" else [
        "--git-remote", str(project.repo)]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"the {source} deploy failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    found = UPLOADED.search(done.stdout)
    sent = None if not found else (0 if found.group(2) else int(found.group(1).replace(",", "")))
    return seconds, sent


def case(name: str, mb: int, runs: int, tmp: Path, env: dict[str, str]) -> None:
    for source in ("git", "artifact"):
        project = Project.create(tmp / f"{name}-{source}" / "repo")
        if mb:
            add_bulk(project, mb)
        server, port = tmp / f"{name}-{source}" / "server", free_port()
        run_env = {**env, "APP_PORT": str(port)}
        try:
            project.commit("v1")
            first, sent_first = deploy(project, server, source, run_env, port)
            _, sent_again = deploy(project, server, source, run_env, port)  # the same commit again
            times = []
            for n in range(runs):
                project.commit(f"v{n + 2}")
                times.append(deploy(project, server, source, run_env, port)[0])
        finally:
            kill_processes_under(server)
        line = (f"{name:24} {source:8} first {first:6.2f} s   "
                f"redeploy (median of {runs}) {statistics.median(times):6.2f} s")
        if source == "artifact":
            line += f"   uploaded: first {sent_first:,} bytes, same commit again {sent_again:,} bytes"
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=int, default=50)
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer
    import boto3

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    tmp = Path(tempfile.mkdtemp(prefix="delivery-bench-"))
    try:
        aws = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "bench",
               "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
        os.environ.update(aws)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "GITHUB_", "INPUT_"))}
        wheels = wheel_folder(tmp / "wheels")
        env.update(pip_index_env(wheels), UV_FIND_LINKS=str(wheels), UV_NO_INDEX="1", UV_NO_CONFIG="1",
                   PATH=f"{uv_folder(tmp / 'uv')}{os.pathsep}{env['PATH']}")
        print(f"deploy wall time through python -m ssm_action --transport local (moto S3 at {aws['AWS_ENDPOINT_URL']})")
        case("sample app", 0, args.runs, tmp, env)
        case(f"sample app + {args.mb} MB", args.mb, args.runs, tmp, env)
    finally:
        moto.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
