"""Status reports: an agent tells the server the status of the objects it realises.

The L2 agent reports ports (``ACTIVE`` when wired, ``ERROR`` while wiring fails, ``DOWN``
when unplugged), the L3 agent floating IPs (``ACTIVE`` once set up, ``ERROR`` while their
router fails, ``DOWN`` when no longer set up here). Both go through one
:class:`StatusReporter`: the agent says what each object's status is now (``wanted``), the
reporter sends only what differs from what it last reported (or, for objects it has not
reported yet, from the server's view in the snapshot), and an object it reported and that is
no longer wanted is reported ``DOWN``. The server's answer per object (``updated``,
``unchanged``, ``not_found``, ``wrong_host``) decides what is remembered.

Pure apart from ``send`` (the HTTP call, ``ServerClient.report_statuses``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

LOG = logging.getLogger(__name__)

Statuses = list[tuple[str, str]]


class StatusReporter:
    def __init__(self, what: str, send: Callable[[Statuses], list[dict]]):
        self.what = what  # "port", "floating IP": for the log
        self.send = send
        self.reported: dict[str, str] = {}  # object id -> status the server accepted

    def pending(self, wanted: Mapping[str, str],
                server: Mapping[str, str | None]) -> Statuses:
        """What to send: wanted statuses that differ from the last report (or the server's
        view), and DOWN for objects reported before and no longer wanted."""
        out = [(oid, status) for oid, status in sorted(wanted.items())
               if self.reported.get(oid, server.get(oid)) != status]
        out += [(oid, "DOWN") for oid, status in sorted(self.reported.items())
                if oid not in wanted and status != "DOWN"]
        return out

    def report(self, wanted: Mapping[str, str], server: Mapping[str, str | None]) -> Statuses:
        """Send what is pending; returns it."""
        statuses = self.pending(wanted, server)
        if not statuses:
            return []
        answer = self.send(statuses)
        sent = dict(statuses)
        for entry in answer:
            oid = entry.get("id")
            if oid not in sent:
                continue
            if entry.get("result") in ("updated", "unchanged"):
                self.reported[oid] = sent[oid]
            elif entry.get("result") in ("not_found", "wrong_host"):
                self.reported.pop(oid, None)
        LOG.info("reported %s status: %s", self.what, statuses)
        return statuses
