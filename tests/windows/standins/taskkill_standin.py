"""STAND-IN for taskkill.exe (Wine's rejects /T).

``/PID n [/T] [/F]``: with /F, terminates the process and, with /T, its children first
(from the toolhelp parent pids). Without /F, like Windows' taskkill: WM_CLOSE to the tree's
visible windows, and a refusal ("can only be terminated forcefully") when it has none.
"""

import json
import sys

import winproc

LOG = r"C:\standins\calls.log"
WM_CLOSE = 0x10


def tree(root):
    children = {}
    for pid, parent, _ in winproc.processes():
        if pid != parent:
            children.setdefault(parent, []).append(pid)
    order, todo = [], [root]
    while todo:
        pid = todo.pop()
        order.append(pid)
        todo.extend(children.get(pid, []))
    return order[::-1]  # children first


def main(argv):
    with open(LOG, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(["taskkill"] + argv) + "\n")
    upper = [arg.upper() for arg in argv]
    pid = int(argv[upper.index("/PID") + 1])
    if pid not in {p for p, _, _ in winproc.processes()}:
        print('ERROR: The process "%d" not found.' % pid)
        return 128
    pids = tree(pid) if "/T" in upper else [pid]
    if "/F" in upper:
        for each in pids:
            winproc.terminate(each)
        print("SUCCESS: The process with PID %d (and its child processes) has been terminated."
              % pid)
        return 0
    windows = winproc.windows_of(set(pids))
    for hwnd in windows:
        winproc.user32.PostMessageW(hwnd, WM_CLOSE, 0, 0)
    if windows:
        print("SUCCESS: Sent termination signal to the process with PID %d." % pid)
        return 0
    print("ERROR: The process with PID %d could not be terminated.\nReason: This process can "
          "only be terminated forcefully (with /F option)." % pid, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
