"""The agents' HTTP client for the server's internal endpoints (docs/change-feed.md).

Only what an agent needs: its host's snapshot, the change feed (long poll, 410 resync), state
reports and status reports (ports, floating IPs). Agents know the server only through this
API; nothing here imports the database or the plugin.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx

LOG = logging.getLogger(__name__)

DEFAULT_SERVER = "http://127.0.0.1:9696"


class ResyncRequired(Exception):
    """The changes after the caller's revision are gone: take a new snapshot."""

    def __init__(self, revision: int | None):
        self.revision = revision
        super().__init__(f"resync required (current revision {revision})")


@dataclass(frozen=True)
class Changes:
    changes: list[dict]
    revision: int


class ServerClient:
    """A thin, synchronous client; one per agent process."""

    def __init__(self, url: str = DEFAULT_SERVER, *, headers: Mapping[str, str] | None = None,
                 timeout: float = 30.0, verify: bool | str = True):
        self.url = url.rstrip("/")
        self._timeout = timeout
        self.http = httpx.Client(base_url=self.url, headers=dict(headers or {}),
                                 timeout=timeout, verify=verify)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check(self, resp: httpx.Response) -> dict:
        if resp.status_code >= 400:
            raise httpx.HTTPStatusError(
                f"{resp.request.method} {resp.request.url} -> {resp.status_code}: "
                f"{resp.text[:500]}", request=resp.request, response=resp)
        return resp.json() if resp.content else {}

    def snapshot(self, host: str) -> dict:
        body = self._check(self.http.get("/v2.0/fermion/snapshot", params={"host": host}))
        return body["snapshot"]

    def changes(self, since: int, timeout: float = 30, limit: int = 1000) -> Changes:
        resp = self.http.get("/v2.0/fermion/changes",
                             params={"since": since, "timeout": int(timeout), "limit": limit},
                             timeout=timeout + self._timeout)
        if resp.status_code == 410:
            try:
                revision = resp.json()["NeutronError"].get("revision")
            except (ValueError, KeyError):
                revision = None
            raise ResyncRequired(revision)
        body = self._check(resp)
        return Changes(body.get("changes", []), int(body.get("revision", since)))

    def report_state(self, agent: Mapping) -> dict:
        return self._check(self.http.post("/v2.0/fermion/agents/report", json={"agent": agent}))

    def report_statuses(self, key: str, host: str,
                        statuses: Iterable[tuple[str, str]]) -> list[dict]:
        """``POST /v2.0/fermion/<key>/status`` (key: ``ports`` or ``floatingips``); the
        server's answer per object."""
        items = [{"id": oid, "status": status} for oid, status in statuses]
        if not items:
            return []
        body = self._check(self.http.post(f"/v2.0/fermion/{key}/status",
                                          json={"host": host, key: items}))
        return body.get(key, [])

    # -- ports (the DHCP agent manages its own network:dhcp ports through the public API) --

    def list_ports(self, **filters: str) -> list[dict]:
        return self._check(self.http.get("/v2.0/ports", params=filters))["ports"]

    def create_port(self, port: Mapping) -> dict:
        return self._check(self.http.post("/v2.0/ports", json={"port": dict(port)}))["port"]

    def update_port(self, port_id: str, changes: Mapping) -> dict:
        body = {"port": dict(changes)}
        return self._check(self.http.put(f"/v2.0/ports/{port_id}", json=body))["port"]

    def delete_port(self, port_id: str) -> bool:
        """Delete a port; False if it was already gone."""
        resp = self.http.delete(f"/v2.0/ports/{port_id}")
        if resp.status_code == 404:
            return False
        self._check(resp)
        return True
