"""The Windows parts of the real-apps issue (14) on a real Windows CPython under Wine (issue 17):
``app_command`` as a console script of the venv and as ``-m MODULE`` (waitress, from its
wheel cached on Linux: pip runs offline under Wine), and ``app_secrets`` resolved by the agent
on Windows Python against moto over HTTP with the IMDSv2 stand-in (tests/agent/aws_world.py).

No stand-in beyond the session's (tests/windows/standins): the console script is pip's own
launcher (distlib's t64.exe), started, found and stopped by the agent through the Windows API.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ssm_action.contract import ExitCode
from tests.agent.aws_world import API_KEY, DB_URL, World, world_fixture  # noqa: F401 # fixture "world"
from tests.windows.winapp import APP_DIR, CLEAN_EXIT, STOP_MARKER, WINDOWS, WinApp, wine_processes

pytestmark = WINDOWS
# A WSGI app for waitress, with the session's clean exit on the stop request (winapp.CLEAN_EXIT).
WSGI_APP = '''\
import tinydep

VERSION = {version!r}
{prelude}

def app(environ, start_response):
    body = ("%s tinydep-%s" % (VERSION, tinydep.VERSION)).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
'''
SECRETS = {"DATABASE_URL": "ssm:/app/db-url", "NOTES_API_KEY": "secretsmanager:app/keys#api_key"}
# The app answers with what it received: the database's host part and a fingerprint of the key.
FINGERPRINT = """
import hashlib
VERSION += "-%s-%s" % (os.environ["DATABASE_URL"].split("@")[1],
                       hashlib.sha256(os.environ["NOTES_API_KEY"].encode()).hexdigest()[:12])
"""


def step_line(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.split()[:1] == [name])


def commit_wsgi(app: WinApp, version: str, wheels: Path) -> str:
    links = "file:///" + app.wine.windows(wheels).replace("\\", "/")  # pip splits on "\\"
    requirements = "--find-links %s\nwaitress\ntinydep @ %s\n" % (links, app.wheel_url)
    return app.commit(version, requirements=requirements, files={"app.py": WSGI_APP.format(
        version=version, prelude=CLEAN_EXIT)})


def test_secrets_are_resolved_on_windows_python_and_no_value_is_left_behind(
        running: WinApp, world: World):
    world.client()  # the IMDS stand-in serves app-role's credentials
    where = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": world.imds.url, "AWS_ENDPOINT_URL": world.moto,
             "AWS_REGION": "us-east-1"}
    run = running.deploy(running.commit("secrets", prelude=FINGERPRINT), env=where,
                         app_secrets=SECRETS)
    assert run.code == ExitCode.OK, run.out + run.err
    assert step_line(run.out, "secrets").endswith("read DATABASE_URL, NOTES_API_KEY")
    fingerprint = hashlib.sha256(API_KEY.encode()).hexdigest()[:12]
    assert running.serving() == "secrets-db.internal:5432/notes-%s" % fingerprint
    assert [p for m, p, s in world.imds.requests if m == "GET" and s == 200]  # role credentials
    texts = {"agent stdout": run.out, "agent stderr": run.err}
    for folder in (running.srv, running.path(r"C:\ssm")):  # app, state, logs, backups, params
        texts.update({str(p): p.read_bytes().decode("latin-1") for p in folder.rglob("*")
                      if p.is_file()})
    for value in (DB_URL, API_KEY, "s3cr3t-pw"):
        assert not [where for where, text in texts.items() if value in text], value


def test_a_console_script_app_is_found_stopped_and_replaced_then_a_module_one(
        running: WinApp, waitress_wheels: Path):
    running.dirty = True  # the next test gets a fresh app-entry deploy
    listen = "--listen=127.0.0.1:%d" % running.port
    script = ["waitress-serve", listen, "app:app"]
    first = running.deploy(commit_wsgi(running, "wsgi-1", waitress_wheels), app_command=script)
    assert first.code == ExitCode.OK, first.out + first.err
    exe = APP_DIR + r"\.venv\Scripts\waitress-serve.exe"
    assert "%s %s app:app" % (exe, listen) in step_line(first.out, "start")
    assert running.serving() == "wsgi-1" and not running.app_processes()  # the entry app ended
    # pip's launcher, the venv's python.exe it starts, and the base interpreter: one app.
    assert len(wine_processes(running.wine.prefix, "waitress-serve")) == 3

    second = running.deploy(commit_wsgi(running, "wsgi-2", waitress_wheels), app_command=script)
    assert second.code == ExitCode.OK, second.out + second.err
    stop = step_line(second.out, "stop")
    assert stop.endswith("stopped pid %d" % first.result["pid"]), stop  # the launcher, gracefully
    assert running.path(STOP_MARKER % "wsgi-1").exists()  # its atexit ran: a clean exit
    assert running.serving() == "wsgi-2" and second.result["health_code"] == 200
    assert len(wine_processes(running.wine.prefix, "waitress-serve")) == 3
    # A failed install keeps the old app: it is known as running (by its launcher's pid).
    missing = "missing @ file:///C:/nowhere/missing-1.0-py3-none-any.whl\n"
    failed = running.deploy(running.commit("needs-missing", requirements=missing),
                            app_command=script)
    assert failed.code == ExitCode.ROLLED_BACK, failed.out + failed.err
    assert "rollback-stop" not in [s["name"] for s in failed.result["steps"]], failed.out
    assert failed.result["pid"] == second.result["pid"] and running.serving() == "wsgi-2"

    module = ["-m", "waitress", listen, "app:app"]
    third = running.deploy(commit_wsgi(running, "wsgi-3", waitress_wheels), app_command=module)
    assert third.code == ExitCode.OK, third.out + third.err
    assert step_line(third.out, "stop").endswith("stopped pid %d" % second.result["pid"])
    assert running.path(STOP_MARKER % "wsgi-2").exists()
    assert "Scripts\\pythonw.exe -m waitress %s app:app" % listen in step_line(third.out, "start")
    assert running.serving() == "wsgi-3" and not wine_processes(running.wine.prefix,
                                                                "waitress-serve")
    assert len(wine_processes(running.wine.prefix, "waitress")) == 2  # pythonw.exe and its child
