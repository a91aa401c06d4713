"""Windows processes through the Windows API (ctypes, stdlib only): no PowerShell start.

- ``snapshot``: every process with its parent, from a toolhelp snapshot
  (CreateToolhelp32Snapshot, Process32FirstW/NextW). It always holds the caller itself:
  a snapshot without the agent's own pid is an error, never "no app running".
- ``command_line``: read from the process's PEB (NtQueryInformationProcess, then
  ReadProcessMemory of RTL_USER_PROCESS_PARAMETERS.CommandLine); offsets for a process of
  the agent's own bitness (64-bit: 0x20 and 0x70; 32-bit: 0x10 and 0x40).
- ``created``: when the process started (GetProcessTimes): with its pid, who it is.
- ``terminate``: TerminateProcess (the forced stop).
"""

from __future__ import annotations

import ctypes
from ctypes import wintypes
from typing import Any, Dict, List, NamedTuple, Optional

TH32CS_SNAPPROCESS = 0x2
PROCESS_TERMINATE = 0x1
PROCESS_VM_READ = 0x10
PROCESS_QUERY_INFORMATION = 0x400
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
INVALID_HANDLE = ctypes.c_void_p(-1).value
WIDE = ctypes.sizeof(ctypes.c_void_p) == 8
PARAMS_AT, CMDLINE_AT = (0x20, 0x70) if WIDE else (0x10, 0x40)


class Proc(NamedTuple):
    pid: int
    parent: int


class PROCESSENTRY32W(ctypes.Structure):
    _fields_ = [("dwSize", wintypes.DWORD), ("cntUsage", wintypes.DWORD),
                ("th32ProcessID", wintypes.DWORD), ("th32DefaultHeapID", ctypes.c_void_p),
                ("th32ModuleID", wintypes.DWORD), ("cntThreads", wintypes.DWORD),
                ("th32ParentProcessID", wintypes.DWORD), ("pcPriClassBase", ctypes.c_long),
                ("dwFlags", wintypes.DWORD), ("szExeFile", ctypes.c_wchar * 260)]


class PROCESS_BASIC_INFORMATION(ctypes.Structure):
    _fields_ = [("ExitStatus", ctypes.c_void_p), ("PebBaseAddress", ctypes.c_void_p),
                ("AffinityMask", ctypes.c_void_p), ("BasePriority", ctypes.c_void_p),
                ("UniqueProcessId", ctypes.c_void_p), ("ParentProcessId", ctypes.c_void_p)]


_dlls: Dict[str, Any] = {}


def kernel32() -> Any:
    if "k32" not in _dlls:
        k32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        k32.CreateToolhelp32Snapshot.restype = wintypes.HANDLE
        k32.CreateToolhelp32Snapshot.argtypes = (wintypes.DWORD, wintypes.DWORD)
        k32.Process32FirstW.argtypes = (wintypes.HANDLE, ctypes.POINTER(PROCESSENTRY32W))
        k32.Process32NextW.argtypes = (wintypes.HANDLE, ctypes.POINTER(PROCESSENTRY32W))
        k32.OpenProcess.restype = wintypes.HANDLE
        k32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
        k32.ReadProcessMemory.argtypes = (wintypes.HANDLE, ctypes.c_void_p, ctypes.c_void_p,
                                          ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t))
        k32.TerminateProcess.argtypes = (wintypes.HANDLE, wintypes.UINT)
        k32.GetExitCodeProcess.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD))
        k32.CloseHandle.argtypes = (wintypes.HANDLE,)
        _dlls["k32"] = k32
    return _dlls["k32"]


def ntdll() -> Any:
    if "nt" not in _dlls:
        nt = ctypes.WinDLL("ntdll")  # type: ignore[attr-defined]
        nt.NtQueryInformationProcess.argtypes = (
            wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.ULONG,
            ctypes.POINTER(wintypes.ULONG))
        _dlls["nt"] = nt
    return _dlls["nt"]


def snapshot() -> List[Proc]:
    """Every process and its parent; raises OSError when the snapshot fails."""
    k32 = kernel32()
    snap = k32.CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0)
    if not snap or snap == INVALID_HANDLE:
        raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
    entry = PROCESSENTRY32W()
    entry.dwSize = ctypes.sizeof(entry)
    found = []
    try:
        ok = k32.Process32FirstW(snap, ctypes.byref(entry))
        while ok:
            found.append(Proc(int(entry.th32ProcessID), int(entry.th32ParentProcessID)))
            ok = k32.Process32NextW(snap, ctypes.byref(entry))
    finally:
        k32.CloseHandle(snap)
    return found


def _read(handle: int, address: int, size: int) -> bytes:
    buffer = ctypes.create_string_buffer(size)
    done = ctypes.c_size_t()
    if not kernel32().ReadProcessMemory(handle, ctypes.c_void_p(address), buffer, size,
                                        ctypes.byref(done)) or done.value != size:
        raise OSError("ReadProcessMemory failed")
    return buffer.raw


def command_line(pid: int) -> Optional[str]:
    """The process's command line, or None when it cannot be read (gone, denied, system)."""
    k32 = kernel32()
    handle = k32.OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, False, pid)
    if not handle:
        return None
    word = ctypes.sizeof(ctypes.c_void_p)
    try:
        info = PROCESS_BASIC_INFORMATION()
        if ntdll().NtQueryInformationProcess(handle, 0, ctypes.byref(info), ctypes.sizeof(info),
                                             None) != 0 or not info.PebBaseAddress:
            return None
        params = int.from_bytes(_read(handle, info.PebBaseAddress + PARAMS_AT, word), "little")
        raw = _read(handle, params + CMDLINE_AT, 2 * word)  # UNICODE_STRING: length, buffer
        length, buffer = int.from_bytes(raw[:2], "little"), int.from_bytes(raw[word:], "little")
        return _read(handle, buffer, length).decode("utf-16-le") if length else ""
    except OSError:
        return None
    finally:
        k32.CloseHandle(handle)


def created(pid: int) -> Optional[int]:
    """The process's creation time (GetProcessTimes, 100 ns units), None when unreadable."""
    k32 = kernel32()
    handle = k32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return None
    try:
        times = (ctypes.c_ulonglong * 4)()  # FILETIMEs: creation, exit, kernel, user
        ok = k32.GetProcessTimes(handle, *(ctypes.byref(times, 8 * i) for i in range(4)))
        return int(times[0]) if ok else None
    finally:
        k32.CloseHandle(handle)


def terminate(pid: int, code: int = 1) -> bool:
    k32 = kernel32()
    handle = k32.OpenProcess(PROCESS_TERMINATE, False, pid)
    if not handle:
        return False
    try:
        return bool(k32.TerminateProcess(handle, code))
    finally:
        k32.CloseHandle(handle)
