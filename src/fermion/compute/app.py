"""The Compute API application (``fermion.compute_api`` serves it with the others).

The Compute API speaks microversion 2.1 only: requests for another version get 406, every
answer names 2.1 in ``OpenStack-API-Version``/``X-OpenStack-Nova-API-Version``; errors of
any kind leave as Nova's fault bodies.
"""

from __future__ import annotations

import logging
import re

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from fermion.compute import routes_internal, routes_misc, routes_servers
from fermion.compute.http import ComputeError, fault_response
from fermion.compute.service import ComputeService

LOG = logging.getLogger(__name__)
VERSION_HEADERS = {"OpenStack-API-Version": "compute 2.1",
                   "X-OpenStack-Nova-API-Version": "2.1",
                   "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version"}
_VERSION_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


def create_compute_app(svc: ComputeService) -> Starlette:
    app = Starlette(routes=routes_misc.ROUTES + routes_servers.ROUTES + routes_internal.ROUTES,
                    exception_handlers={ComputeError: _fault, HTTPException: _http_error,
                                        Exception: _unexpected})
    app.state.compute = svc
    return Microversion(app)


async def _fault(_request: Request, error: ComputeError) -> Response:
    return fault_response(error, VERSION_HEADERS)


async def _http_error(_request: Request, error: HTTPException) -> Response:
    if error.status_code == 404:
        return fault_response(ComputeError(404, "The resource could not be found."),
                              VERSION_HEADERS)
    if error.status_code == 405:
        return fault_response(ComputeError(405, "The method specified is not allowed for "
                                                "this resource."), VERSION_HEADERS)
    return fault_response(ComputeError(error.status_code, str(error.detail)), VERSION_HEADERS)


async def _unexpected(request: Request, error: Exception) -> Response:
    LOG.exception("unexpected error serving %s %s", request.method, request.url.path)
    return fault_response(ComputeError(500, "Unexpected API Error. Please report this at "
                                            "Fermion's issue tracker and attach the Compute "
                                            "API log if possible."), VERSION_HEADERS)


def requested_version(headers: dict[bytes, bytes]) -> str | None:
    """The compute microversion a request asks for (None: none named)."""
    modern = headers.get(b"openstack-api-version", b"").decode("latin-1")
    for part in modern.split(","):
        service, _, value = part.strip().partition(" ")
        if service.lower() == "compute" and value.strip():
            return value.strip()
    legacy = headers.get(b"x-openstack-nova-api-version", b"").decode("latin-1").strip()
    return legacy or None


def version_error(wanted: str | None) -> ComputeError | None:
    if wanted is None or wanted.lower() == "latest":
        return None
    match = _VERSION_RE.match(wanted)
    if not match:
        return ComputeError(400, f"API Version String {wanted} is of invalid format. Must be "
                                 "of format MajorNum.MinorNum.")
    if (int(match[1]), int(match[2])) != (2, 1):
        return ComputeError(406, f"Version {wanted} is not supported by the API. Minimum is "
                                 "2.1 and maximum is 2.1.")
    return None


class Microversion:
    """ASGI middleware: refuse versions other than 2.1; name 2.1 on every answer."""

    def __init__(self, app: Starlette):
        self.app = app
        self.state = app.state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = version_error(requested_version(dict(scope["headers"])))
        if error is not None:
            await fault_response(error, VERSION_HEADERS)(scope, receive, send)
            return

        async def send_with_version(message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.lower().encode(), v.encode()) for k, v in VERSION_HEADERS.items()
                         if k.lower().encode() not in names]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        await self.app(scope, receive, send_with_version)
