"""The fixed script SSM runs on each server: it decodes the deploy agent (the zipapp
from ssm_action/payload.py) and its parameters, runs the agent with the server's
Python and passes its exit code on.

Only base64 literals (charset ``[A-Za-z0-9+/=]``) are ever put into the script
text, so no input value can change what the script does. The zipapp is most of
the request, and SSM counts the request against a 64 KB quota (see request.py),
so it travels xz-compressed, a seventh smaller than gzip, which a service host
from an artifact needs to fit. Neither PowerShell 5.1 nor every Linux image has
an xz decoder, so both bootstraps write a fixed stub (UNPACK, one more base64
literal, of fixed text) that unpacks the agent with the server's Python
(``lzma``: in python.org's and every Linux distribution's build) before the
agent runs: one scheme for both platforms.

With ``s3-bucket`` set the agent does not travel in the command at all: the runner
stores it once under its sha256 (agent_store.py) and the same literal carries a
ticket instead, ``{"url": <presigned GET>, "sha256": ...}``. The stub downloads the
agent with the server's Python and refuses to write it unless its sha256 is the
ticket's, so the command stays a few KB whatever the agent's size.
"""

from __future__ import annotations

import base64
import functools
import json
import lzma
from dataclasses import dataclass
from typing import Any

from ssm_action import payload as agent_zipapp

DOCUMENTS = {"windows": "AWS-RunPowerShellScript", "linux": "AWS-RunShellScript"}
SLOTS = ("@AGENT_B64@", "@PARAMS_B64@", "@PYTHON_B64@")
NO_LZMA_EXIT = 9  # the stub's exit code without lzma: none of the agent's (0-4), nor Python's (1, 2)
NO_AGENT_EXIT = 10  # the stub's exit code when the agent could not be fetched from S3, or was not the one sent
XZ_MAGIC = b"\xfd7zXZ\x00"

# Both bootstraps' stub: python unpack.py <agent.in> <agent.pyz>, where agent.in is the agent
# xz-compressed or a ticket to fetch it. Python 3.8+, fixed text.
UNPACK = f"""import hashlib, json, sys, time
def fail(message, code):
    sys.stderr.write("ssm-deploy bootstrap: " + message + "\\n")
    sys.exit(code)
def fetch(ticket):
    from urllib.request import urlopen
    for attempt in range(4):
        try:
            with urlopen(ticket["url"], timeout=60) as answer:
                return answer.read()
        except Exception as exc:
            if attempt == 3 or 400 <= getattr(exc, "code", 500) < 500:
                fail("could not download the deploy agent from S3 (%s): the server must reach S3 over HTTPS, "
                     "as it does to write the command's output there" % exc, {NO_AGENT_EXIT})
            time.sleep(2 ** attempt)
with open(sys.argv[1], "rb") as source:
    data = source.read()
if data.startswith({XZ_MAGIC!r}):
    try:
        import lzma
    except ImportError:
        fail("%s has no lzma module, which unpacks the deploy agent: set server-python to a Python built "
             "with lzma (python.org and Linux distribution builds are)" % sys.executable, {NO_LZMA_EXIT})
    data = lzma.decompress(data)
else:
    ticket = json.loads(data.decode("utf-8"))
    data = fetch(ticket)
    got = hashlib.sha256(data).hexdigest()
    if got != ticket["sha256"]:
        fail("the deploy agent downloaded from S3 has sha256 %s, not %s as the command says: "
             "it was not run" % (got, ticket["sha256"]), {NO_AGENT_EXIT})
with open(sys.argv[2], "wb") as agent:
    agent.write(data)
"""

# Windows PowerShell 5.1. Python's output goes to files, never to this session's
# pipes: the app the agent starts (detached) then cannot keep SSM's stdout/stderr
# open, so the command ends when the agent ends. The stub's exit code, when not 0,
# is passed on and the agent does not run.
_POWERSHELL = r"""# ssm-deploy-action bootstrap: decode the deploy agent and parameters, run it, pass on its exit code.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
function Copy-FileTo([string]$Path, [IO.Stream]$To) {
    $bytes = [IO.File]::ReadAllBytes($Path)
    $To.Write($bytes, 0, $bytes.Length)
    $To.Flush()
}
function Invoke-Python([string]$Python, [string]$Arguments, [string]$Out, [string]$Err) {
    $proc = Start-Process -FilePath $Python -ArgumentList $Arguments -NoNewWindow -PassThru `
        -RedirectStandardOutput $Out -RedirectStandardError $Err
    $null = $proc.Handle  # without a handle taken early, ExitCode is empty after exit
    $proc.WaitForExit()
    $proc.ExitCode
}
$work = Join-Path ([IO.Path]::GetTempPath()) ('ssm-deploy-' + [Guid]::NewGuid().ToString('N'))
$null = New-Item -ItemType Directory -Path $work
$code = 1
try {
    $packed = Join-Path $work 'agent.in'
    $unpack = Join-Path $work 'unpack.py'
    $agent = Join-Path $work 'agent.pyz'
    $params = Join-Path $work 'params.json'
    $out = Join-Path $work 'stdout.txt'
    $err = Join-Path $work 'stderr.txt'
    [IO.File]::WriteAllBytes($packed, [Convert]::FromBase64String('@AGENT_B64@'))
    [IO.File]::WriteAllBytes($unpack, [Convert]::FromBase64String('@UNPACK_B64@'))
    [IO.File]::WriteAllBytes($params, [Convert]::FromBase64String('@PARAMS_B64@'))
    $python = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('@PYTHON_B64@'))
    $env:PYTHONIOENCODING = 'utf-8'
    $code = Invoke-Python $python ('"{0}" "{1}" "{2}"' -f $unpack, $packed, $agent) $out $err
    if ($code -eq 0) {
        $code = Invoke-Python $python ('"{0}" --params-file "{1}"' -f $agent, $params) $out $err
    }
    Copy-FileTo $out ([Console]::OpenStandardOutput())
    Copy-FileTo $err ([Console]::OpenStandardError())
} finally {
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}
exit $code
"""

# POSIX sh: AWS-RunShellScript runs its script with `sh -c`, which is dash on Debian/Ubuntu.
# The stub's exit code, when not 0, is passed on (`|| exit`) and the agent does not run. The stub
# may write to SSM's pipes: it starts nothing that could keep them open, as the agent's app would.
_SHELL = r"""# ssm-deploy-action bootstrap: decode the deploy agent and parameters, run it, pass on its exit code.
set -eu
work=$(mktemp -d "${TMPDIR:-/tmp}/ssm-deploy-XXXXXXXX")
trap 'rm -rf -- "$work"' EXIT
printf '%s' '@AGENT_B64@' | base64 -d > "$work/agent.in"
printf '%s' '@UNPACK_B64@' | base64 -d > "$work/unpack.py"
printf '%s' '@PARAMS_B64@' | base64 -d > "$work/params.json"
python=$(printf '%s' '@PYTHON_B64@' | base64 -d)
export PYTHONIOENCODING=utf-8
"$python" "$work/unpack.py" "$work/agent.in" "$work/agent.pyz" < /dev/null || exit
code=0
"$python" "$work/agent.pyz" --params-file "$work/params.json" \
    < /dev/null > "$work/stdout" 2> "$work/stderr" || code=$?
cat "$work/stdout"
cat "$work/stderr" >&2
exit "$code"
"""

UNPACK_SLOT = "@UNPACK_B64@"
UNPACK_B64 = base64.b64encode(UNPACK.encode("ascii")).decode("ascii")
POWERSHELL = _POWERSHELL.replace(UNPACK_SLOT, UNPACK_B64)  # part of the fixed script, not a slot
SHELL = _SHELL.replace(UNPACK_SLOT, UNPACK_B64)
TEMPLATES = {"windows": POWERSHELL, "linux": SHELL}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Payload:
    """What the script carries, already encoded; ``values`` fill SLOTS in order."""

    agent_b64: str  # the zipapp, xz-compressed (pack), or the ticket to fetch it from S3
    params_b64: str
    python_b64: str
    agent_sha256: str  # of the zipapp (payload.build().sha256)
    agent_bytes: int
    agent_filename: str
    params: dict[str, Any]
    python: str
    agent_url: str = ""  # presigned GET of the agent in S3; empty: the agent travels inline

    @property
    def values(self) -> tuple[str, str, str]:
        return self.agent_b64, self.params_b64, self.python_b64

    def __repr__(self) -> str:  # the URL is a credential for its lifetime
        return f"Payload(agent_sha256={self.agent_sha256!r}, from_s3={bool(self.agent_url)})"


@functools.lru_cache(maxsize=4)  # xz takes about 0.1 s; a run packs the same agent for deploy and rollback
def pack(data: bytes) -> bytes:
    """Deterministic: a fixed preset, no timestamps (the same code gives the same script)."""
    return lzma.compress(data, format=lzma.FORMAT_XZ, preset=9 | lzma.PRESET_EXTREME)


def ticket(url: str, sha256: str) -> bytes:
    return json.dumps({"url": url, "sha256": sha256}, sort_keys=True).encode("utf-8")


def payload(agent: agent_zipapp.Payload, params: dict[str, Any], python: str, agent_url: str = "") -> Payload:
    """The script's literals: the agent inline, or with ``agent_url`` a ticket to fetch it from S3."""
    carried = ticket(agent_url, agent.sha256) if agent_url else pack(agent.data)
    return Payload(
        agent_b64=b64(carried),
        params_b64=b64(json.dumps(params, sort_keys=True).encode("utf-8")),
        python_b64=b64(python.encode("utf-8")),
        agent_sha256=agent.sha256,
        agent_bytes=len(agent.data),
        agent_filename=agent.filename,
        params=params,
        python=python,
        agent_url=agent_url,
    )


def _fill(platform: str, values: tuple[str, str, str]) -> str:
    text = TEMPLATES[platform]
    for slot, value in zip(SLOTS, values):
        text = text.replace(slot, value)
    return text


def script(platform: str, data: Payload) -> str:
    return _fill(platform, data.values)


def commands(platform: str, data: Payload) -> list[str]:
    """The document's ``commands`` parameter: one string per line, as SSM joins them."""
    return script(platform, data).splitlines()


def review(platform: str, data: Payload) -> str:
    """The script as a person should read it: each base64 literal replaced by what it decodes to."""
    text = _fill(platform, (
        f"<{data.agent_filename}: the agent zipapp, {data.agent_bytes} bytes, sha256 {data.agent_sha256}, "
        + ("a ticket to fetch it from S3 by a presigned URL, base64>" if data.agent_url else "xz+base64>"),
        "<the parameters below, base64>",
        f"<{json.dumps(data.python)}, base64>",
    ))
    text = text.replace(UNPACK_B64, "<unpack.py below, base64>") + "\n# unpack.py (decoded):\n" + UNPACK.rstrip("\n")
    return text + "\n# Parameters (decoded):\n" + json.dumps(data.params, indent=2, sort_keys=True)
