"""Facts about processes from /proc, for stopping exactly the processes we started.

Every daemon Fermion or its tests start is tracked by pid; before signalling one we check
it is still alive (not a zombie) and still runs our command line, since pids are reused.
"""

from __future__ import annotations

from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True if the process exists and is neither a zombie nor dead."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def cmdline(pid: int) -> str:
    """The process's command line, arguments joined by spaces ("" if it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
