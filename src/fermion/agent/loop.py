"""The loop every Fermion agent runs: level-triggered, driven by the server's change feed.

An agent is a reconciler (docs/change-feed.md): report state (heartbeat), take the host's
snapshot, converge the host to it, then wait for a reason to pass again:

- the change feed, long-polled by a watcher thread: any change (or a 410 resync) marks the
  snapshot stale, so the next pass takes a new one first;
- a local event an agent may signal through :attr:`ReconcilingAgent.wake` (the L2 agent's
  OVSDB monitor, a crashed child process…): a pass against the last snapshot;
- a timer (``poll_interval``), in case either of the above is missed;
- the earliest retry of an object that failed (:meth:`ReconcilingAgent.next_retry`).

Failures: an applier contains the failure of one object (a port, a network, a router; see
``fermion.agent.retry``) and carries on with the others. What escapes a pass is retried as a
whole, from a new snapshot, after a backoff (1, 2, 4 … 30 s): a server or system error
(``EXPECTED``) is logged as a warning, anything else with its traceback. Nothing that
happens in a pass ends the agent; only a bad configuration at start does (``fermion agent``
exits 2 naming it).

Subclasses say who they are (``agent_type``, ``binary``, :meth:`configurations`) and what a
pass does (:meth:`converge`); everything about when to pass lives here.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import httpx

from fermion.agent.server_client import ResyncRequired, ServerClient
from fermion.linux.cmd import CommandError

LOG = logging.getLogger(__name__)

FEED_WAIT = 30  # seconds a change-feed long poll may wait
MAX_BACKOFF = 30.0
# what the server or the system raise when they refuse or are unavailable for a moment:
# logged without a traceback (the message names the command or request)
EXPECTED = (httpx.HTTPError, OSError, CommandError)


class ReconcilingAgent:
    agent_type = "?"
    binary = "fermion-agent"

    def __init__(self, host: str, client: ServerClient, *, report_interval: float = 30.0,
                 poll_interval: float = 2.0):
        self.host = host
        self.client = client
        self.report_interval = report_interval
        self.poll_interval = poll_interval
        self.snapshot: dict | None = None
        self.revision = 0
        self.passes = 0
        self._started = True
        self._last_report = 0.0
        self.stop_event = threading.Event()
        self.wake = threading.Event()  # something may differ: pass again
        self.dirty = threading.Event()  # the server's model changed: snapshot first
        self._watcher: threading.Thread | None = None

    # ---------------------------------------------------------------- what subclasses say
    def configurations(self) -> dict:
        return {}

    def converge(self) -> Any:
        """One pass against ``self.snapshot``; returns a summary (printed by ``--once``)."""
        raise NotImplementedError

    def next_retry(self) -> float | None:
        """``time.monotonic()`` of the earliest retry of a failed object (None: none)."""
        return None

    # ---------------------------------------------------------------- server side
    def report_state(self) -> None:
        self.client.report_state({
            "agent_type": self.agent_type, "host": self.host, "binary": self.binary,
            "topic": "N/A", "start_flag": self._started,
            "configurations": self.configurations()})
        self._started = False
        self._last_report = time.monotonic()

    def resync(self) -> None:
        self.dirty.clear()  # changes arriving from now on ask for another snapshot
        self.snapshot = self.client.snapshot(self.host)
        self.revision = max(self.revision, int(self.snapshot["revision"]))

    def run_once(self) -> Any:
        """Heartbeat, snapshot, converge: one full pass (``--once``)."""
        self.report_state()
        self.resync()
        return self.converge()

    # ---------------------------------------------------------------- the loop
    def run(self) -> None:
        """Pass, then wait for the feed, a wake-up, a retry or the timer; until :meth:`stop`.
        A pass that raises is retried from a new snapshot after a backoff."""
        backoff = 1.0
        self.dirty.set()
        while not self.stop_event.is_set():
            try:
                if time.monotonic() - self._last_report >= self.report_interval:
                    self.report_state()
                if self.dirty.is_set() or self.snapshot is None:
                    self.resync()
                self.converge()
                backoff = 1.0
            except Exception as exc:  # noqa: BLE001 - an agent outlives any failed pass
                if isinstance(exc, EXPECTED):
                    LOG.warning("pass failed (%s); full resync in %.0fs", exc, backoff)
                else:
                    LOG.exception("pass failed unexpectedly; full resync in %.0fs", backoff)
                self.dirty.set()
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="change-feed",
                                                 daemon=True)
                self._watcher.start()
            self.wake.wait(self._wait_time())
            self.wake.clear()

    def _wait_time(self) -> float:
        """Until the timer, the next state report or the next retry, whichever comes first."""
        now = time.monotonic()
        until = [self.poll_interval, self.report_interval - (now - self._last_report)]
        retry = self.next_retry()
        if retry is not None:
            until.append(retry - now)
        return max(0.0, min(until))

    def _watch(self) -> None:
        """Long-poll the change feed from the newest revision seen; flag changes."""
        backoff = 1.0
        while not self.stop_event.is_set():
            try:
                feed = self.client.changes(self.revision, timeout=FEED_WAIT)
                backoff = 1.0
            except ResyncRequired as exc:
                LOG.info("change feed asks for a resync")
                self.revision = max(self.revision, exc.revision or 0)
                self._flag()
                continue
            except Exception as exc:  # noqa: BLE001 - the watcher outlives any failure
                LOG.warning("change feed: %s; again in %.0fs", exc, backoff,
                            exc_info=None if isinstance(exc, EXPECTED) else exc)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            self.revision = max(self.revision, feed.revision)
            if feed.changes:
                self._flag()

    def _flag(self) -> None:
        self.dirty.set()
        self.wake.set()

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()

    # ---------------------------------------------------------------- the command
    def start_watchers(self) -> None:
        """Local event sources the daemon needs besides the feed (none by default)."""

    def stop_watchers(self) -> None:
        """Undo :meth:`start_watchers`."""

    def serve(self, once: bool = False) -> int:
        """The ``fermion agent …`` command: one pass printed as JSON (``--once``; exit 1 when
        it fails or reports failing objects), or the loop until interrupted. The client is
        closed after."""
        try:
            if once:
                try:
                    result = self.run_once()
                except Exception:  # noqa: BLE001 - said, with its traceback, and status 1
                    LOG.exception("the pass failed")
                    return 1
                print(json.dumps(result.summary(), sort_keys=True))
                return 1 if getattr(result, "errors", None) else 0
            self.start_watchers()
            self.run()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
            self.stop_watchers()
            self.client.close()
        return 0
