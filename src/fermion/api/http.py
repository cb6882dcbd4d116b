"""HTTP plumbing shared by the route modules: JSON responses, errors, identity, bodies.

Every error leaves as ``{"NeutronError": {"type", "message", "detail"}}``; anything
unexpected is logged and becomes a 500 in the same form (and the transaction is rolled
back, so nothing is half-written).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from fermion import exceptions as exc
from fermion.model.context import Context

LOG = logging.getLogger(__name__)
T = TypeVar("T")
REVISION_RE = re.compile(r"-?[0-9]{1,30}")


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json",
                    headers=headers)


def dumps(body: Any) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:  # an integer beyond 64 bits (a big IPv6 subnet's total_ips): stdlib can
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def error_response(error: exc.NeutronError) -> Response:
    return json_response({"NeutronError": {"type": error.type, "message": error.message,
                                           "detail": ""}}, error.status)


class RejectNul:
    """ASGI middleware: a URL holding a NUL character (``%00``) is a 400.

    No database keeps NUL in text (PostgreSQL refuses even to compare with it), so an id,
    filter or marker with one could only fail deeper down.
    """

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and ("\x00" in scope.get("path", "")
                                        or b"%00" in scope.get("query_string", b"")):
            error = exc.HTTPBadRequest(msg="NUL characters are not allowed in the URL")
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class AuthFailed(Exception):
    """The identity middleware answered the request itself (e.g. 401 from Keystone)."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes):
        self.status, self.headers, self.body = status, headers, body


async def identify(request: Request) -> Context:
    auth = request.app.state.auth
    headers = {k.lower(): v for k, v in request.headers.items()}
    if getattr(auth, "blocking", True):
        result = await run_in_threadpool(auth.authenticate, headers)
    else:
        result = auth.authenticate(headers)
    if isinstance(result, tuple):
        raise AuthFailed(*result)
    return result


async def read_body(request: Request) -> bytes:
    """The request body, refusing anything over ``max_request_body_size`` with a 413."""
    limit = request.app.state.max_body
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise exc.HTTPRequestEntityTooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise exc.HTTPRequestEntityTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await run_in_threadpool(fn, *args)


def if_match(request: Request) -> int | None:
    """``If-Match: revision_number=N`` (revision-if-match extension).

    As in Neutron, other entity tags (``*``, opaque ones) are ignored; a ``revision_number``
    tag that is not an integer, or more than one of them, is a 400.
    """
    header = request.headers.get("if-match")
    if not header:
        return None
    revision = None
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        tag = tag.strip('"')
        if not tag.startswith("revision_number="):
            continue
        if revision is not None:
            raise exc.HTTPBadRequest(msg="Multiple revision_number etags are not supported.")
        value = tag[len("revision_number="):]
        if not REVISION_RE.fullmatch(value):
            raise exc.HTTPBadRequest(msg="Revision number etag must be in the format of "
                                     "revision_number=<int>")
        revision = int(value)
    return revision


def select_fields(items: list[dict], fields: list[str] | None) -> list[dict]:
    if not fields:
        return items
    wanted = set(fields)
    return [{k: v for k, v in item.items() if k in wanted} for item in items]
