"""HTTP plumbing of the Compute API: Nova's fault bodies, identity, bodies, JSON.

Every error leaves as Nova's fault body, ``{"<faultName>": {"code": N, "message": "…"}}``,
with the fault name Nova uses for the status (``badRequest``, ``itemNotFound``,
``conflictingRequest``, …; ``computeFault`` for anything else).

Identity is ``noauth``, as in the Networking API: ``X-Project-Id`` (or ``X-Tenant-Id``),
``X-Roles`` and ``X-User-Id`` name the caller; a request without them acts as admin of
``[fermion] noauth_project_id``. Nova's key pairs belong to users; a caller without
``X-User-Id`` is taken as its project's user (the project id), so under noauth key pairs are
per project.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

LOG = logging.getLogger(__name__)
T = TypeVar("T")

FAULT_NAMES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
               405: "badMethod", 409: "conflictingRequest", 413: "overLimit",
               415: "badMediaType", 429: "overLimit", 501: "notImplemented",
               503: "serviceUnavailable"}
MAX_BODY = 1024 * 1024  # a server create with 64 KiB of base64 user data fits easily


class ComputeError(Exception):
    """An error the API answers with Nova's fault body."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bad(message: str) -> ComputeError:
    return ComputeError(400, message)


def not_found(message: str) -> ComputeError:
    return ComputeError(404, message)


def conflict(message: str) -> ComputeError:
    return ComputeError(409, message)


def forbidden(message: str) -> ComputeError:
    return ComputeError(403, message)


def fault_response(error: ComputeError, headers: dict | None = None) -> Response:
    name = FAULT_NAMES.get(error.status, "computeFault")
    return json_response({name: {"code": error.status, "message": error.message}},
                         error.status, headers)


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers=headers)


@dataclass(frozen=True)
class Caller:
    project_id: str
    user_id: str
    roles: frozenset[str]
    # the identity headers to pass on to the Networking API (empty: admin there too)
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def can_write(self) -> bool:
        return self.is_admin or bool({"member", "_member_"} & self.roles)


def identify(request: Request, default_project: str) -> Caller:
    headers = request.headers  # case-insensitive
    project = headers.get("x-project-id") or headers.get("x-tenant-id")
    if not project:
        return Caller(default_project, headers.get("x-user-id") or default_project,
                      frozenset({"admin", "member", "reader"}))
    roles = frozenset(r.strip().lower() for r in headers.get("x-roles", "member").split(",")
                      if r.strip())
    passed = [("X-Project-Id", project), ("X-Roles", ",".join(sorted(roles)))]
    user = headers.get("x-user-id")
    if user:
        passed.append(("X-User-Id", user))
    return Caller(project, user or project, roles, tuple(passed))


def require_writer(caller: Caller, action: str) -> None:
    if not caller.can_write:
        raise forbidden(f"Policy doesn't allow os_compute_api:{action} to be performed.")


async def read_json(request: Request) -> Any:
    """The request body as JSON; 400 with Nova's wording when it is not."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise ComputeError(413, "Request is too large.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ComputeError(413, "Request is too large.")
    if not body:
        raise bad("The request body is empty or malformed.")
    try:
        return json.loads(body)
    except ValueError:
        raise bad("Malformed request body") from None


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await run_in_threadpool(fn, *args)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")
