"""Wake an agent when OVSDB changes: ``ovsdb-client monitor`` in a reader thread.

A hypervisor plugs an instance by adding an OVS port with ``external_ids:iface-id``; the L2
agent must notice at once rather than at its next poll. ``ovsdb-client monitor`` prints one
JSON line per update of the watched columns; every line (the initial dump included) calls
``on_change``. The agent then runs its usual level-triggered pass, so what changed does not
matter and a missed or extra wake-up is harmless.

The child is started with ``PR_SET_PDEATHSIG`` so a ``kill -9`` of the agent does not leave an
orphaned monitor behind; :meth:`stop` terminates it by its pid.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

LOG = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class OvsdbMonitor:
    """Monitor ``table``'s ``columns`` on the OVSDB at ``db_sock``; call ``on_change`` per update."""

    def __init__(self, db_sock: str | Path, on_change: Callable[[], None], *,
                 table: str = "Interface",
                 columns: Sequence[str] = ("name", "ofport", "external_ids")):
        self.argv = ["ovsdb-client", "--format=json", "monitor", f"unix:{db_sock}",
                     "Open_vSwitch", table, ",".join(columns)]
        self.on_change = on_change
        self.proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self.updates = 0

    def start(self) -> OvsdbMonitor:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                     text=True, preexec_fn=_die_with_parent)
        self._thread = threading.Thread(target=self._read, name="ovsdb-monitor", daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.updates += 1
                self.on_change()
        LOG.warning("ovsdb-client monitor ended (exit %s); falling back to polling",
                    self.proc.poll())

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=5)
