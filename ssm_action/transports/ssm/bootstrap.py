"""The fixed script SSM runs on each server: it decodes the deploy agent (the zipapp
from ssm_action/payload.py) and its parameters, runs the agent with the server's
Python and passes its exit code on.

Only base64 literals (charset ``[A-Za-z0-9+/=]``) are ever put into the script
text, so no input value can change what the script does. The zipapp is gzipped
first: it is most of the request, and SSM counts the request against a 64 KB
quota (see ssm_request.py).
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from typing import Any

from ssm_action import payload as agent_zipapp

DOCUMENTS = {"windows": "AWS-RunPowerShellScript", "linux": "AWS-RunShellScript"}
SLOTS = ("@AGENT_GZIP_B64@", "@PARAMS_B64@", "@PYTHON_B64@")

# Windows PowerShell 5.1. The agent's output goes to files, never to this
# session's pipes: the app the agent starts (detached) then cannot keep SSM's
# stdout/stderr open, so the command ends when the agent ends.
POWERSHELL = r"""# ssm-deploy-action bootstrap: decode the deploy agent and parameters, run it, pass on its exit code.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
function Copy-FileTo([string]$Path, [IO.Stream]$To) {
    $bytes = [IO.File]::ReadAllBytes($Path)
    $To.Write($bytes, 0, $bytes.Length)
    $To.Flush()
}
$work = Join-Path ([IO.Path]::GetTempPath()) ('ssm-deploy-' + [Guid]::NewGuid().ToString('N'))
$null = New-Item -ItemType Directory -Path $work
$code = 1
try {
    $agent = Join-Path $work 'agent.pyz'
    $params = Join-Path $work 'params.json'
    $out = Join-Path $work 'stdout.txt'
    $err = Join-Path $work 'stderr.txt'
    $packed = New-Object IO.MemoryStream(, [Convert]::FromBase64String('@AGENT_GZIP_B64@'))
    $gzip = New-Object IO.Compression.GZipStream($packed, [IO.Compression.CompressionMode]::Decompress)
    $file = [IO.File]::Create($agent)
    try { $gzip.CopyTo($file) } finally { $file.Dispose(); $gzip.Dispose() }
    [IO.File]::WriteAllBytes($params, [Convert]::FromBase64String('@PARAMS_B64@'))
    $python = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('@PYTHON_B64@'))
    $env:PYTHONIOENCODING = 'utf-8'
    $arguments = '"{0}" --params-file "{1}"' -f $agent, $params
    $proc = Start-Process -FilePath $python -ArgumentList $arguments -NoNewWindow -PassThru `
        -RedirectStandardOutput $out -RedirectStandardError $err
    $null = $proc.Handle  # without a handle taken early, ExitCode is empty after exit
    $proc.WaitForExit()
    $code = $proc.ExitCode
    Copy-FileTo $out ([Console]::OpenStandardOutput())
    Copy-FileTo $err ([Console]::OpenStandardError())
} finally {
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}
exit $code
"""

# POSIX sh: AWS-RunShellScript runs its script with `sh -c`, which is dash on Debian/Ubuntu.
SHELL = r"""# ssm-deploy-action bootstrap: decode the deploy agent and parameters, run it, pass on its exit code.
set -eu
work=$(mktemp -d "${TMPDIR:-/tmp}/ssm-deploy-XXXXXXXX")
trap 'rm -rf -- "$work"' EXIT
printf '%s' '@AGENT_GZIP_B64@' | base64 -d | gzip -dc > "$work/agent.pyz"
printf '%s' '@PARAMS_B64@' | base64 -d > "$work/params.json"
python=$(printf '%s' '@PYTHON_B64@' | base64 -d)
code=0
PYTHONIOENCODING=utf-8 "$python" "$work/agent.pyz" --params-file "$work/params.json" \
    < /dev/null > "$work/stdout" 2> "$work/stderr" || code=$?
cat "$work/stdout"
cat "$work/stderr" >&2
exit "$code"
"""

TEMPLATES = {"windows": POWERSHELL, "linux": SHELL}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Payload:
    """What the script carries, already encoded; ``values`` fill SLOTS in order."""

    agent_gzip_b64: str
    params_b64: str
    python_b64: str
    agent_sha256: str  # of the zipapp (payload.build().sha256)
    agent_bytes: int
    agent_filename: str
    params: dict[str, Any]
    python: str

    @property
    def values(self) -> tuple[str, str, str]:
        return self.agent_gzip_b64, self.params_b64, self.python_b64


def payload(agent: agent_zipapp.Payload, params: dict[str, Any], python: str) -> Payload:
    # A deterministic zipapp, gzipped with mtime=0: the same code gives the same script
    packed = gzip.compress(agent.data, compresslevel=9, mtime=0)
    return Payload(
        agent_gzip_b64=b64(packed),
        params_b64=b64(json.dumps(params, sort_keys=True).encode("utf-8")),
        python_b64=b64(python.encode("utf-8")),
        agent_sha256=agent.sha256,
        agent_bytes=len(agent.data),
        agent_filename=agent.filename,
        params=params,
        python=python,
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
        f"<{data.agent_filename}: the agent zipapp, {data.agent_bytes} bytes, sha256 {data.agent_sha256}, gzip+base64>",
        "<the parameters below, base64>",
        f"<{json.dumps(data.python)}, base64>",
    ))
    return text + "\n# Parameters (decoded):\n" + json.dumps(data.params, indent=2, sort_keys=True)
