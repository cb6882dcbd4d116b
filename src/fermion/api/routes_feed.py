"""Fermion's internal endpoints for agents: the change feed, host snapshots, port status.

Admin-only (agents authenticate as an admin or service user). Documented in
docs/change-feed.md:

  GET  /v2.0/fermion/changes?since=R&timeout=S&limit=N   changes after R (long-poll)
  GET  /v2.0/fermion/snapshot?host=H                     what concerns host H, at revision R
  POST /v2.0/fermion/ports/status                        {"host": H, "ports": [{id, status}]}
  POST /v2.0/fermion/floatingips/status         {"host": H, "floatingips": [{id, status}]}
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from fermion import exceptions as exc
from fermion.api import request as req
from fermion.api.http import identify, in_thread, json_response, read_body
from fermion.api.routes import ERRORS
from fermion.model.context import Context
from fermion.plugin import fip_status, port_status, status_reports
from fermion.plugin.feed import DEFAULT_LIMIT, DEFAULT_TIMEOUT, MAX_LIMIT, MAX_TIMEOUT
from fermion.plugin.snapshot import host_snapshot

BASE = "/v2.0/fermion"


def require_admin(ctx: Context, action: str) -> None:
    if not ctx.is_admin:
        raise exc.PolicyNotAuthorized(action=f"rule:{action}")


def query_params(request: Request, allowed: set[str]) -> dict[str, str]:
    out = {}
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            raise exc.bad(f"[{key}] is invalid attribute for filtering")
        if key in out:
            raise exc.bad(f"'{key}' may be given only once")
        out[key] = value
    return out


def number(params: dict, name: str, parse, default, minimum):
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except ValueError:
        value = None
    if value is None or value != value or value < minimum:  # value != value: NaN
        raise exc.bad(f"Invalid input for {name}. Reason: '{raw}' is not a number of at "
                      f"least {minimum}.")
    return value


def resync_response(error: exc.NeutronError) -> Response:
    revision = error.kwargs.get("revision", 0)
    return json_response({"NeutronError": {"type": error.type, "message": error.message,
                                           "detail": "", "revision": revision}},
                         error.status, headers={"X-Fermion-Revision": str(revision)})


def status_endpoint(kind: status_reports.Kind):
    """``POST /v2.0/fermion/<key>/status``: an agent's status report of one kind."""

    async def report(request: Request) -> Response:
        ctx = await identify(request)
        require_admin(ctx, kind.action)
        host, reports = status_reports.parse(req.load_json(await read_body(request)), kind)
        plugin = request.app.state.plugin
        results = await in_thread(plugin.db.write,
                                  lambda conn: kind.report(plugin, conn, host, reports))
        return json_response({kind.key: results})

    return report


def add_feed_routes(app: FastAPI) -> None:
    async def changes(request: Request) -> Response:
        ctx = await identify(request)
        require_admin(ctx, "get_fermion_changes")
        params = query_params(request, {"since", "timeout", "limit"})
        since = number(params, "since", int, 0, 0)
        timeout = min(number(params, "timeout", float, DEFAULT_TIMEOUT, 0), MAX_TIMEOUT)
        limit = min(number(params, "limit", int, DEFAULT_LIMIT, 1), MAX_LIMIT)
        try:
            batch = await request.app.state.plugin.feed.changes(since, timeout, limit)
        except exc.ResyncRequired as error:
            return resync_response(error)
        revision = batch[-1]["revision"] if batch else since
        return json_response({"changes": batch, "revision": revision},
                             headers={"X-Fermion-Revision": str(revision)})

    async def snapshot(request: Request) -> Response:
        ctx = await identify(request)
        require_admin(ctx, "get_fermion_snapshot")
        params = query_params(request, {"host"})
        host = params.get("host", "")
        if not host:
            raise exc.bad("Invalid input for host. Reason: a host name is required.")
        plugin = request.app.state.plugin

        def run():
            with plugin.db.read_snapshot() as conn:
                return host_snapshot(plugin, conn, host)

        body = await in_thread(run)
        return json_response({"snapshot": body},
                             headers={"X-Fermion-Revision": str(body["revision"])})

    def q(name: str, schema: dict, description: str) -> dict:
        return {"name": name, "in": "query", "required": False, "schema": schema,
                "description": description}

    app.add_api_route(f"{BASE}/changes", changes, methods=["GET"], name="List changes",
                      description="Changes after revision `since`, in revision order; "
                                  "long-polls up to `timeout` s when there are none. 410 "
                                  "ResyncRequired when `since` is no longer retained.",
                      openapi_extra={"responses": ERRORS, "parameters": [
                          q("since", {"type": "integer", "minimum": 0}, "last revision seen"),
                          q("timeout", {"type": "number", "minimum": 0}, "seconds (max 60)"),
                          q("limit", {"type": "integer", "minimum": 1}, "at most (10000)")]})
    app.add_api_route(f"{BASE}/snapshot", snapshot, methods=["GET"], name="Show host snapshot",
                      description="Everything the agents of `host` need, at one revision.",
                      openapi_extra={"responses": ERRORS, "parameters": [
                          {**q("host", {"type": "string"}, "host name"), "required": True}]})
    for kind, what in (
            (port_status.KIND, "An agent reports ports it wired (ACTIVE) or lost (DOWN)."),
            (fip_status.KIND, "The L3 agent reports floating IPs it configured (ACTIVE), "
                              "removed (DOWN) or failed on (ERROR).")):
        key, statuses = kind.key, kind.statuses
        app.add_api_route(f"{BASE}/{key}/status", status_endpoint(kind), methods=["POST"],
                          name=f"Report {key} status", description=what,
                          openapi_extra={"responses": ERRORS, "requestBody": {
                              "required": True, "content": {"application/json": {"schema": {
                                  "type": "object", "required": ["host", key], "properties": {
                                      "host": {"type": "string"},
                                      key: {"type": "array", "items": {
                                          "type": "object", "required": ["id", "status"],
                                          "properties": {
                                              "id": {"type": "string"},
                                              "status": {"type": "string",
                                                         "enum": list(statuses)}}}}}}}}}})
