"""The Compute API's client of the Networking API, over HTTP as Nova's is.

Two identities, as in Nova: what the caller may see (networks, ports and security groups
it names) is looked up *as the caller* (its noauth headers passed on), and what only the
service may do (ports bound to a host, ``binding:host_id``, ports of other projects) is
done as admin (no identity headers under noauth). Errors come back as
:class:`NeutronFailure` with Neutron's status, type and message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import httpx

DEFAULT_URL = "http://127.0.0.1:9696"
CHUNK = 50  # ids per filtered list (keeps URLs short)


class NeutronFailure(Exception):
    def __init__(self, status: int, type_: str, message: str):
        super().__init__(f"{status} {type_}: {message}")
        self.status, self.type, self.message = status, type_, message


class Networking:
    def __init__(self, url: str = DEFAULT_URL, timeout: float = 30.0):
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, *, headers: Sequence[tuple[str, str]] = (),
              params: Mapping | None = None, json: Mapping | None = None) -> dict | None:
        """The response body, None for a 404 on a GET; NeutronFailure otherwise."""
        resp = self.http.request(method, "/v2.0" + path, headers=list(headers),
                                 params=params, json=json)
        if resp.status_code == 404 and method == "GET":
            return None
        if resp.status_code >= 400:
            try:
                err = resp.json()["NeutronError"]
                raise NeutronFailure(resp.status_code, err.get("type", ""),
                                     err.get("message", ""))
            except (ValueError, KeyError, TypeError):
                raise NeutronFailure(resp.status_code, "", resp.text[:300]) from None
        return resp.json() if resp.content else {}

    # -- as the caller
    def network(self, network_id: str, headers: Sequence[tuple[str, str]]) -> dict | None:
        body = self._call("GET", f"/networks/{network_id}", headers=headers)
        return body and body["network"]

    def networks(self, headers: Sequence[tuple[str, str]] = (), **filters) -> list[dict]:
        return self._call("GET", "/networks", headers=headers, params=filters)["networks"]

    def port(self, port_id: str, headers: Sequence[tuple[str, str]] = ()) -> dict | None:
        body = self._call("GET", f"/ports/{port_id}", headers=headers)
        return body and body["port"]

    def security_groups(self, headers: Sequence[tuple[str, str]], **filters) -> list[dict]:
        return self._call("GET", "/security-groups", headers=headers,
                          params=filters)["security_groups"]

    # -- as the service
    def create_port(self, port: Mapping) -> dict:
        return self._call("POST", "/ports", json={"port": dict(port)})["port"]

    def update_port(self, port_id: str, changes: Mapping) -> dict:
        return self._call("PUT", f"/ports/{port_id}", json={"port": dict(changes)})["port"]

    def delete_port(self, port_id: str) -> bool:
        """False when the port was gone already."""
        try:
            self._call("DELETE", f"/ports/{port_id}")
        except NeutronFailure as failure:
            if failure.status == 404:
                return False
            raise
        return True

    def ports_of(self, device_ids: Iterable[str]) -> list[dict]:
        return self._chunked("/ports", "ports", "device_id", device_ids)

    def networks_by_id(self, ids: Iterable[str]) -> list[dict]:
        return self._chunked("/networks", "networks", "id", ids)

    def subnets_by_id(self, ids: Iterable[str]) -> list[dict]:
        return self._chunked("/subnets", "subnets", "id", ids)

    def floatingips_of(self, port_ids: Iterable[str]) -> list[dict]:
        return self._chunked("/floatingips", "floatingips", "port_id", port_ids)

    def _chunked(self, path: str, key: str, field: str, values: Iterable[str]) -> list[dict]:
        values = sorted(set(values))
        out: list[dict] = []
        for i in range(0, len(values), CHUNK):
            out += self._call("GET", path, params={field: values[i:i + CHUNK]})[key]
        return out
