"""A daemon run in a namespace and tracked by its pid file (dnsmasq, haproxy).

The daemon forks itself into the background (dnsmasq by default, haproxy with ``daemon``
in its config) and writes `pidfile`; the command that started it returns once the daemon
is set up, with a non-zero status and a message on stderr when it is not. That is what
makes start errors clear: `start()` raises `CommandError` naming the command line and its
stderr (or "cannot be started" when the program is missing).

A restarted agent *adopts* a running daemon: `pid()` is the pid in `pidfile` if that process
is alive and its command line is exactly `argv` (the pid file path is in every argv we
build, so a reused pid or another network's daemon never matches). Processes are only ever
signalled by that verified pid, never by name.

    d = Daemon(["dnsmasq", f"--pid-file={pf}", ...], pidfile=pf, netns="qdhcp-…")
    d.ensure()      # adopt if running with this argv, else (re)start
    d.reload()      # SIGHUP
    d.stop()        # SIGTERM, then SIGKILL
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from fermion.linux.cmd import CommandError, run
from fermion.linux.proc import pid_alive

LOG = logging.getLogger(__name__)


def argv_of(pid: int) -> list[str] | None:
    """The exact argument vector of `pid` (None if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.rstrip(b"\0").decode(errors="replace").split("\0") if raw else None


def read_pidfile(path: str | os.PathLike) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


class Daemon:
    """One self-daemonizing process: `argv` run in `netns`, known by `pidfile`."""

    def __init__(self, argv: Sequence[str], *, pidfile: str | os.PathLike,
                 netns: str | None = None, start_timeout: float = 10.0,
                 identity: str | None = None):
        self.argv = list(argv)
        self.pidfile = Path(pidfile)
        self.netns = netns
        self.start_timeout = start_timeout
        # an argument only our daemon has, whatever its other arguments: the pid file path
        # (dnsmasq --pid-file=…) or, when the pid file is named in a config, that config
        self.identity = identity or str(self.pidfile)

    def __repr__(self) -> str:
        return f"Daemon({self.argv[0]!r}, pidfile={str(self.pidfile)!r}, netns={self.netns!r})"

    def pid(self) -> int | None:
        """The pid of our daemon if it runs with exactly our argv, else None."""
        return self._verified(read_pidfile(self.pidfile), self.argv)

    @staticmethod
    def _verified(pid: int | None, argv: Sequence[str] | None) -> int | None:
        if pid is None or not pid_alive(pid):
            return None
        actual = argv_of(pid)
        return pid if actual is not None and (argv is None or actual == list(argv)) else None

    def running_pid(self) -> int | None:
        """The pid in `pidfile` if it is alive and runs the same program with our
        `identity` argument, whatever its other arguments (an older configuration we may
        have to replace)."""
        pid = read_pidfile(self.pidfile)
        if pid is None or not pid_alive(pid):
            return None
        actual = argv_of(pid) or []
        same_program = actual[:1] == self.argv[:1]
        return pid if same_program and any(self.identity in a for a in actual) else None

    def _find_in_netns(self) -> int | None:
        """Our daemon whose pid file was lost: a process of our namespace running exactly
        our argv (the argv names our pid file). The pid file is written again."""
        if self.netns is None:
            return None
        listed = run(["ip", "netns", "pids", self.netns], check=False).stdout.split()
        for pid in map(int, listed):
            if self._verified(pid, self.argv):
                LOG.warning("%s (pid %d) runs without its pid file: adopted", self.argv[0], pid)
                self.pidfile.parent.mkdir(parents=True, exist_ok=True)
                self.pidfile.write_text(f"{pid}\n")
                return pid
        return None

    def start(self) -> int:
        """Start the daemon; returns its pid. Raises CommandError naming the command and
        its stderr when it fails to start or leaves no live pid."""
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        self.pidfile.unlink(missing_ok=True)
        result = run(self.argv, netns=self.netns, timeout=self.start_timeout)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            pid = self.pid()
            if pid:
                LOG.info("started %s (pid %d)", self.argv[0], pid)
                return pid
            time.sleep(0.02)
        raise CommandError(self.argv, 0, result.stdout,
                           (result.stderr or "").strip()
                           + f" (no live process in {self.pidfile} after start)")

    def ensure(self) -> tuple[int, str]:
        """Adopt the running daemon if its argv is ours, else (re)start it.
        Returns (pid, what): what is "adopted", "started" or "restarted"."""
        pid = self.pid() or self._find_in_netns()
        if pid:
            return pid, "adopted"
        old = self.running_pid()
        if old:
            LOG.info("%s (pid %d) runs another command line: restarting", self.argv[0], old)
            self._kill(old)
        return self.start(), ("restarted" if old else "started")

    def reload(self) -> bool:
        """SIGHUP the daemon; False if it is not running."""
        pid = self.pid()
        if not pid:
            return False
        os.kill(pid, signal.SIGHUP)
        return True

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the daemon started from our pid file (any argv of the same program and pid
        file); True if one was running."""
        pid = self.running_pid()
        if not pid:
            self.pidfile.unlink(missing_ok=True)
            return False
        self._kill(pid, timeout)
        self.pidfile.unlink(missing_ok=True)
        return True

    def _kill(self, pid: int, timeout: float = 5.0) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if not pid_alive(pid):
                    return
                time.sleep(0.02)
        LOG.warning("process %d (%s) survived SIGKILL", pid, self.argv[0])
