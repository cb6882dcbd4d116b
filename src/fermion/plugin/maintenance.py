"""The server's periodic work, in one background thread: prune the change log, fail over.

Every ``agent_down_time / 2`` seconds (at least every second, at most every 30), and sooner
when the change feed asks for a prune, it runs each task; a failing task is logged and
tried again next time. Every server sharing a database runs it: the tasks are
transactions that are safe to run concurrently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

LOG = logging.getLogger(__name__)


class Maintenance:
    def __init__(self, interval: float, tasks: list[Callable[[], object]],
                 wake: threading.Event | None = None):
        self.interval = min(30.0, max(1.0, interval))
        self.tasks = tasks
        self._wake = wake or threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fermion-maintenance",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> None:
        for task in self.tasks:
            if self._stop.is_set():
                return
            try:
                task()
            except Exception:
                LOG.exception("periodic task %s failed", getattr(task, "__name__", task))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self.run_once()
