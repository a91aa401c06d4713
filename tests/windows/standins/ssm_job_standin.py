"""STAND-IN for the SSM Agent's job object (amazon-ssm-agent, agent/jobobject/jobobject_windows.go).

The SSM Agent on Windows creates one job object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and
without JOB_OBJECT_LIMIT_BREAKAWAY_OK, and assigns every command's process to it: when the
SSM Agent exits (a restart, an agent update) the job's last handle closes and Windows ends
every process still in it. No SSM Agent runs under Wine, so this script plays its part with
the same Windows calls: it creates such a job (``--breakaway-ok`` adds BREAKAWAY_OK), puts
itself in it, runs the command after ``--`` (the real agent) as its child, so the agent and
everything it starts without breaking away are in the job, waits for it, prints one report
line (``SSM JOB STAND-IN: {json}``: the agent's exit code, the pids in the job) and exits,
which closes the job's handle: kill-on-close fires as when the SSM Agent stops.

Run with the Windows Python under Wine; stdlib only.
"""

import ctypes
import json
import os
import subprocess
import sys
from ctypes import wintypes

KILL_ON_JOB_CLOSE = 0x2000
BREAKAWAY_OK = 0x800
EXTENDED_LIMIT_INFORMATION = 9
BASIC_PROCESS_ID_LIST = 3
MAX_PIDS = 256


class BASIC_LIMIT(ctypes.Structure):
    _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64), ("PerJobUserTimeLimit", ctypes.c_int64),
                ("LimitFlags", wintypes.DWORD), ("MinimumWorkingSetSize", ctypes.c_size_t),
                ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", wintypes.DWORD),
                ("Affinity", ctypes.c_size_t), ("PriorityClass", wintypes.DWORD),
                ("SchedulingClass", wintypes.DWORD)]


class EXTENDED_LIMIT(ctypes.Structure):
    _fields_ = [("BasicLimitInformation", BASIC_LIMIT), ("IoInfo", ctypes.c_uint64 * 6),
                ("ProcessMemoryLimit", ctypes.c_size_t), ("JobMemoryLimit", ctypes.c_size_t),
                ("PeakProcessMemoryUsed", ctypes.c_size_t), ("PeakJobMemoryUsed", ctypes.c_size_t)]


class PID_LIST(ctypes.Structure):
    _fields_ = [("NumberOfAssignedProcesses", wintypes.DWORD),
                ("NumberOfProcessIdsInList", wintypes.DWORD),
                ("ProcessIdList", ctypes.c_size_t * MAX_PIDS)]


def kernel32():
    k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    k32.CreateJobObjectW.restype = wintypes.HANDLE
    k32.CreateJobObjectW.argtypes = (ctypes.c_void_p, wintypes.LPCWSTR)
    k32.SetInformationJobObject.argtypes = (wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p,
                                            wintypes.DWORD)
    k32.QueryInformationJobObject.argtypes = (wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p,
                                              wintypes.DWORD, ctypes.c_void_p)
    k32.AssignProcessToJobObject.argtypes = (wintypes.HANDLE, wintypes.HANDLE)
    k32.GetCurrentProcess.restype = wintypes.HANDLE
    return k32


def check(ok, what):
    if not ok:
        raise ctypes.WinError(ctypes.get_last_error(), what)


def make_job(k32, breakaway_ok):
    """The SSM Agent's job, in the current process (its children are born in it)."""
    job = k32.CreateJobObjectW(None, None)
    check(job, "CreateJobObjectW")
    limits = EXTENDED_LIMIT()
    limits.BasicLimitInformation.LimitFlags = KILL_ON_JOB_CLOSE | (
        BREAKAWAY_OK if breakaway_ok else 0)
    check(k32.SetInformationJobObject(job, EXTENDED_LIMIT_INFORMATION, ctypes.byref(limits),
                                      ctypes.sizeof(limits)), "SetInformationJobObject")
    check(k32.AssignProcessToJobObject(job, k32.GetCurrentProcess()), "AssignProcessToJobObject")
    return job


def pids_in(k32, job):
    listed = PID_LIST()
    check(k32.QueryInformationJobObject(job, BASIC_PROCESS_ID_LIST, ctypes.byref(listed),
                                        ctypes.sizeof(listed), None), "QueryInformationJobObject")
    return sorted(listed.ProcessIdList[i] for i in range(listed.NumberOfProcessIdsInList))


def main(argv):
    breakaway_ok = argv[0] == "--breakaway-ok"
    command = argv[argv.index("--") + 1:]
    k32 = kernel32()
    job = make_job(k32, breakaway_ok)
    code = subprocess.call(command)
    report = {"breakaway_ok": breakaway_ok, "agent_exit": code, "me": os.getpid(),
              "in_job": pids_in(k32, job)}
    print("SSM JOB STAND-IN: " + json.dumps(report), flush=True)
    return 0  # the exit closes the job's last handle: kill-on-close ends what is left in it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
