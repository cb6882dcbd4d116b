"""``/v2.1/servers``: create, list, detail, show, delete and the console output action."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fermion.compute import instances, servers, views
from fermion.compute.http import (
    bad,
    base_url,
    conflict,
    identify,
    in_thread,
    json_response,
    read_json,
    require_writer,
)
from fermion.compute.validation import CONSOLE_OUTPUT, validate


def _svc(request: Request):
    return request.app.state.compute


def _caller(request: Request):
    return identify(request, _svc(request).settings.default_project)


async def create(request: Request) -> Response:
    caller = _caller(request)
    require_writer(caller, "servers:create")
    body = await read_json(request)
    row, admin_pass = await in_thread(servers.create, _svc(request), caller, body)
    base = base_url(request)
    return json_response({"server": views.created(row, base, admin_pass)}, 202,
                         {"Location": f"{base}/v2.1/servers/{row.uuid}"})


async def listing(request: Request) -> Response:
    return await _list(request, detailed=False)


async def detail_listing(request: Request) -> Response:
    return await _list(request, detailed=True)


async def _list(request: Request, detailed: bool) -> Response:
    caller = _caller(request)
    svc = _svc(request)
    params = dict(request.query_params)

    def run():
        rows = svc.store.query(lambda conn: instances.query(conn, caller, params))
        return rows, (instances.network_info(svc, rows) if detailed else {})

    rows, infos = await in_thread(run)
    base = base_url(request)
    if detailed:
        items = [views.detail(r, infos.get(r.uuid), base, admin=caller.is_admin)
                 for r in rows]
    else:
        items = [views.summary(r, base) for r in rows]
    body = {"servers": items}
    links = instances.next_link(base, rows, params)
    if links:
        body["servers_links"] = links
    return json_response(body)


async def show(request: Request) -> Response:
    caller = _caller(request)
    svc = _svc(request)
    server_id = request.path_params["server_id"]

    def run():
        row = svc.store.query(lambda conn: servers.visible_row(conn, caller, server_id))
        return row, instances.network_info(svc, [row]).get(row.uuid)

    row, info = await in_thread(run)
    return json_response({"server": views.detail(row, info, base_url(request),
                                                 admin=caller.is_admin)})


async def remove(request: Request) -> Response:
    caller = _caller(request)
    require_writer(caller, "servers:delete")
    await in_thread(servers.remove, _svc(request), caller, request.path_params["server_id"])
    return Response(status_code=204)


async def action(request: Request) -> Response:
    caller = _caller(request)
    svc = _svc(request)
    server_id = request.path_params["server_id"]
    body = await read_json(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise bad("Malformed request body")
    name = next(iter(body))
    if name != "os-getConsoleOutput":
        raise bad(f"There is no such action: {name}")
    validate(CONSOLE_OUTPUT, body)
    length = body["os-getConsoleOutput"].get("length")
    row = await in_thread(svc.store.query,
                          lambda conn: servers.visible_row(conn, caller, server_id))
    if row.host is None or (row.vm_state == views.ERROR and row.console_log is None):
        raise conflict(f"Instance {server_id} is not ready")
    return json_response({"output": tail(row.console_log or "", length)})


def tail(text: str, length) -> str:
    """The last ``length`` lines (all for None or -1), as Nova cuts console output."""
    if length is None or int(length) < 0:
        return text
    lines = text.splitlines(keepends=True)
    return "".join(lines[-int(length):]) if int(length) else ""


ROUTES = [
    Route("/v2.1/servers", create, methods=["POST"]),
    Route("/v2.1/servers", listing, methods=["GET"]),
    Route("/v2.1/servers/detail", detail_listing, methods=["GET"]),
    Route("/v2.1/servers/{server_id}", show, methods=["GET"]),
    Route("/v2.1/servers/{server_id}", remove, methods=["DELETE"]),
    Route("/v2.1/servers/{server_id}/action", action, methods=["POST"]),
]
