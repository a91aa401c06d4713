"""STAND-IN for powershell.exe (Wine's is a stub that prints nothing and exits 0).

Answers only the agent's process listing, ``Get-CimInstance Win32_Process | Select-Object
ProcessId,CommandLine | ConvertTo-Json``, from a toolhelp snapshot and each process's PEB.
Every other use (``-File hook.ps1``) fails loudly: no PowerShell runs under Wine.
"""

import json
import os
import sys

import winproc

LOG = r"C:\standins\calls.log"
EMPTY_LISTING = r"C:\standins\empty-process-list"  # set by a test: answer like Wine's stub


def main(argv):
    with open(LOG, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(["powershell"] + argv) + "\n")
    command = argv[argv.index("-Command") + 1] if "-Command" in argv else ""
    if "Get-CimInstance Win32_Process" not in command:
        sys.stderr.write("PowerShell stand-in: cannot run %s (no PowerShell under Wine)\n"
                         % " ".join(argv))
        return 99
    if os.path.exists(EMPTY_LISTING):
        return 0
    listed = [{"ProcessId": pid, "CommandLine": winproc.command_line(pid)}
              for pid, _, _ in winproc.processes()]
    sys.stdout.buffer.write(b"\xef\xbb\xbf" + json.dumps(listed).encode("utf-8") + b"\r\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
