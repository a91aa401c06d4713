"""STAND-IN for powershell.exe (Wine's is a stub that prints nothing and exits 0).

The agent starts PowerShell only for ``.ps1`` hooks (it lists processes through the Windows
API). No PowerShell runs under Wine, so this records the call and fails loudly, as a
missing PowerShell would, instead of the stub's silent success.
"""

import json
import sys

LOG = r"C:\standins\calls.log"


def main(argv):
    with open(LOG, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(["powershell"] + argv) + "\n")
    sys.stderr.write("PowerShell stand-in: cannot run %s (no PowerShell under Wine)\n"
                     % " ".join(argv))
    return 99


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
