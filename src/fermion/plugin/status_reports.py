"""Status reports from agents: a host says what it has realised, object by object.

A report is ``{"host": H, <key>: [{"id": ..., "status": ...}, ...]}`` (``parse``). Applying
one (``apply``) locks the rows it names, in id order so that two reports never deadlock,
and asks the kind's ``judge`` what each reported status means for its row: None when the
host may not speak for it, else the status to show and the columns to write. Each id gets
one result, ``updated``, ``unchanged``, ``not_found`` or ``wrong_host``; an id reported
twice counts once, with its last status. Only real changes are written (a revision bump
and a change in the feed, through the resource's ``update_row``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, select

from fermion.exceptions import bad
from fermion.plugin import listing

# (row, reported status) -> None (wrong host), or (status shown, columns to write)
Judge = Callable[[Any, str], tuple[str, dict] | None]


@dataclass(frozen=True)
class Kind:
    key: str  # the body's list and the answer's: "ports", "floatingips"
    statuses: tuple[str, ...]
    action: str  # the policy rule named when a non-admin reports
    report: Callable[[Any, Connection, str, list[dict]], list[dict]]  # (plugin, conn, host, …)


def parse(body: Any, kind: Kind) -> tuple[str, list[dict]]:
    """``{"host": H, key: [{"id", "status"}, ...]}`` -> (host, reports); 400 otherwise."""
    key, statuses = kind.key, kind.statuses
    if not isinstance(body, dict):
        raise bad("Body contains invalid data")
    host = body.get("host")
    if not isinstance(host, str) or not host or len(host) > 255:
        raise bad("Invalid input for host. Reason: a non-empty string of at most 255 "
                  "characters is required.")
    reports = body.get(key)
    if not isinstance(reports, list):
        raise bad(f"Unable to find '{key}' (a list) in request body")
    out = []
    for report in reports:
        if not isinstance(report, dict) or not isinstance(report.get("id"), str):
            raise bad(f"Invalid input for {key}. Reason: each entry needs an 'id'.")
        if report.get("status") not in statuses:
            raise bad(f"Invalid input for status. Reason: '{report.get('status')}' is not "
                      f"in {list(statuses)}.")
        out.append({"id": report["id"], "status": report["status"]})
    return host, out


def locked_rows(conn: Connection, table: Table, reports: list[dict]) -> dict[str, Any]:
    """The rows the reports name, by id, locked for the rest of the transaction."""
    rows = {}
    for part in listing.chunks(sorted({r["id"] for r in reports})):
        rows.update((row.id, row) for row in conn.execute(
            select(table).where(table.c.id.in_(part)).order_by(table.c.id).with_for_update()))
    return rows


def apply(conn: Connection, resource, rows: dict[str, Any], reports: list[dict],
          judge: Judge) -> list[dict]:
    """One result per reported id (the last report of an id wins); writes through
    ``resource.update_row`` what ``judge`` says changed."""
    results = []
    for item in {r["id"]: r for r in reports}.values():
        row = rows.get(item["id"])
        if row is None:
            results.append({"id": item["id"], "status": None, "result": "not_found"})
            continue
        verdict = judge(row, item["status"])
        if verdict is None:
            results.append({"id": row.id, "status": row.status, "result": "wrong_host"})
            continue
        status, values = verdict
        if values:
            resource.update_row(conn, row, values)
        results.append({"id": row.id, "status": status,
                        "result": "updated" if values else "unchanged"})
    return results
