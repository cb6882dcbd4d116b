"""What compute hosts call (docs/compute-agent.md), and ``os-services`` that shows them.

All admin only (a compute agent authenticates as an admin or service user):

  POST /v2.1/fermion/hosts/report      heartbeat: {"host": {"name", "availability_zone"}}
  GET  /v2.1/fermion/snapshot?host=H   the servers H should run, with their ports
  POST /v2.1/fermion/instances/status  guest reports: {"host": H, "instances": [{"id",
                                       "power_state", "lease", "metadata", "fault",
                                       "console"}]}
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fermion.compute import instances, netinfo, views
from fermion.compute.http import (
    ComputeError,
    bad,
    identify,
    in_thread,
    json_response,
    read_json,
)
from fermion.compute.store import now
from fermion.compute.tables import services as S

FIELDS = {"id", "power_state", "lease", "metadata", "fault", "console"}


def _admin(request: Request):
    svc = request.app.state.compute
    caller = identify(request, svc.settings.default_project)
    if not caller.is_admin:
        raise ComputeError(403, "Policy doesn't allow fermion:compute_host to be performed.")
    return svc


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 255:
        raise bad(f"Invalid input for {what}: a name of 1 to 255 characters is required.")
    return value


async def report_host(request: Request) -> Response:
    svc = _admin(request)
    body = await read_json(request)
    host = body.get("host") if isinstance(body, dict) else None
    if not isinstance(host, dict):
        raise bad("Invalid input: expected {\"host\": {\"name\": …}}")
    name = _name(host.get("name"), "host name")
    zone = _name(host.get("availability_zone") or svc.settings.default_zone,
                 "availability_zone")
    view = await in_thread(svc.store.write,
                           lambda conn: instances.report_host(conn, name, zone))
    return json_response({"host": view})


async def snapshot(request: Request) -> Response:
    svc = _admin(request)
    host = request.query_params.get("host")
    if not host:
        raise bad("host is required")

    def run():
        rows = svc.store.query(lambda conn: instances.host_instances(conn, host))
        uuids = [r.uuid for r in rows]
        order = svc.store.query(lambda conn: instances.port_order(conn, uuids))
        infos = netinfo.gather(svc.networking, uuids, order)
        return [instances.snapshot_view(r, infos.get(r.uuid)) for r in rows]

    return json_response({"snapshot": {"host": host, "taken_at": now(),
                                       "instances": await in_thread(run)}})


async def report_instances(request: Request) -> Response:
    svc = _admin(request)
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        raise bad("Invalid input: expected {\"host\": H, \"instances\": [...]}")
    host = _name(body.get("host"), "host")
    items = [_report_item(item) for item in body["instances"]]

    def run(conn):
        return [instances.report_instance(conn, host, item) for item in items]

    return json_response({"instances": await in_thread(svc.store.write, run)})


def _report_item(item: object) -> dict:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise bad("Each report needs the server's \"id\".")
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise bad(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    if item.get("power_state", "nostate") not in views.POWER:
        raise bad(f"power_state must be one of {', '.join(sorted(views.POWER))}")
    for key in ("fault", "console"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise bad(f"{key} must be a string or null")
    for key in ("lease", "metadata"):
        if key in item and not isinstance(item[key], bool):
            raise bad(f"{key} must be true or false")
    return item


async def services(request: Request) -> Response:
    svc = _admin(request)

    def run(conn):
        return conn.execute(S.select().order_by(S.c.host)).all()

    rows = await in_thread(svc.store.query, run)
    cutoff = time.time() - svc.settings.service_down_time
    return json_response({"services": [
        {"id": i + 1, "binary": r.binary, "host": r.host, "zone": r.availability_zone,
         "status": "disabled" if r.disabled else "enabled",
         "state": "up" if r.reported_at >= cutoff else "down",
         "updated_at": r.updated_at, "disabled_reason": None}
        for i, r in enumerate(rows)]})


ROUTES = [
    Route("/v2.1/fermion/hosts/report", report_host, methods=["POST"]),
    Route("/v2.1/fermion/snapshot", snapshot, methods=["GET"]),
    Route("/v2.1/fermion/instances/status", report_instances, methods=["POST"]),
    Route("/v2.1/os-services", services, methods=["GET"]),
]
