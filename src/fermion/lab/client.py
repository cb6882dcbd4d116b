"""The lab's client of the public Networking API (plain HTTP; the lab never imports the
server's code). With ``auth_strategy = noauth`` a request without identity headers acts as
admin; ``project=`` sends ``X-Project-Id``/``X-Roles: member``, the way the seed's demo user
works in its own project."""

from __future__ import annotations

import time

import httpx


class ApiError(RuntimeError):
    """The API answered an error; the message has Neutron's error text."""


class Api:
    def __init__(self, url: str, timeout: float = 15.0):
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=timeout, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, body: dict | None = None, *,
             project: str | None = None) -> dict:
        headers = {"X-Project-Id": project, "X-Roles": "member"} if project else {}
        answer = self.http.request(method, path, json=body, headers=headers)
        if answer.status_code >= 400:
            try:
                detail = answer.json()["NeutronError"]["message"]
            except (ValueError, KeyError, TypeError):
                detail = answer.text.strip()[:300]
            raise ApiError(f"{method} {path}: {answer.status_code} {detail}")
        return answer.json() if answer.content else {}

    def get(self, path: str, **kw) -> dict:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: dict, **kw) -> dict:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: dict, **kw) -> dict:
        return self.call("PUT", path, body, **kw)

    def answers(self) -> bool:
        try:
            return self.http.get("/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait(self, condition, what: str, timeout: float, interval: float = 0.2):
        """Poll `condition()` (API errors count as "not yet") until it returns something
        true; raise TimeoutError naming `what` (and the last error) otherwise."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                value = condition()
                if value:
                    return value
            except (ApiError, httpx.HTTPError) as exc:
                last = exc
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not within {timeout:.0f} s"
                                   + (f" (last error: {last})" if last else ""))
            time.sleep(interval)
