"""The router actions: interfaces and atomic extra-route changes.

``PUT /v2.0/routers/{id}/add_router_interface`` and ``…/remove_router_interface`` take
``{"subnet_id": …}`` or ``{"port_id": …}`` (not wrapped in ``router``) and answer Neutron's
interface body ``{"id", "tenant_id", "project_id", "port_id", "subnet_id", "subnet_ids",
"network_id"}``; ``…/add_extraroutes`` and ``…/remove_extraroutes`` (``extraroute-atomic``)
take ``{"router": {"routes": [...]}}`` and answer the router. The CRUD routes of routers,
floating IPs and address scopes are the generic ones (``routes.add_resource``).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from fermion import exceptions as exc
from fermion.api import request as req
from fermion.api.http import identify, in_thread, json_response, read_body
from fermion.api.routes import ERRORS, _path_param
from fermion.model.attributes_l3 import ROUTE_SCHEMA, routes
from fermion.model.validators import Invalid

UUID = {"type": "string", "format": "uuid"}
INTERFACE_BODY = {"type": "object", "properties": {"subnet_id": UUID, "port_id": UUID}}
INTERFACE_ANSWER = {"type": "object", "properties": {
    name: {"type": "string"} for name in ("id", "tenant_id", "project_id", "port_id",
                                          "subnet_id", "network_id")} | {
    "subnet_ids": {"type": "array", "items": {"type": "string"}}}}
ROUTES_BODY = {"type": "object", "required": ["router"], "properties": {"router": {
    "type": "object", "required": ["routes"], "properties": {"routes": ROUTE_SCHEMA}}}}


def add_l3_routes(app: FastAPI) -> None:
    def interface_action(name: str, add: bool):
        async def action(request: Request) -> Response:
            ctx = await identify(request)
            body = req.load_json(await read_body(request))
            plugin = request.app.state.plugin
            router_id = request.path_params["id"]
            interfaces = plugin.router_interfaces
            change = interfaces.add if add else interfaces.remove
            return json_response(await in_thread(
                plugin.db.write, lambda conn: change(conn, ctx, router_id, body)))

        app.add_api_route(f"/v2.0/routers/{{id}}/{name}", action, methods=["PUT"],
                          name=name.replace("_", " ").capitalize(), openapi_extra={
                              "parameters": [_path_param("id")], "responses": {
                                  "200": {"description": "The interface", "content": {
                                      "application/json": {"schema": INTERFACE_ANSWER}}},
                                  **ERRORS},
                              "requestBody": {"required": True, "content": {
                                  "application/json": {"schema": INTERFACE_BODY}}}})

    def routes_action(name: str, add: bool):
        async def action(request: Request) -> Response:
            ctx = await identify(request)
            raw, _ = req.parse_body(await read_body(request), "router", "routers", False)
            if "routes" not in raw[0]:
                raise exc.bad("Failed to parse request. Required attribute 'routes' not "
                              "specified")
            try:
                wanted = routes(raw[0]["routes"])
            except Invalid as error:
                raise exc.bad(f"Invalid input for routes. Reason: {error}.") from None
            plugin = request.app.state.plugin
            router_id = request.path_params["id"]

            def run(conn):
                plugin.routers.change_routes(conn, ctx, router_id, wanted, add)
                return plugin.routers.show(conn, ctx, router_id)

            return json_response({"router": await in_thread(plugin.db.write, run)})

        app.add_api_route(f"/v2.0/routers/{{id}}/{name}", action, methods=["PUT"],
                          name=name.replace("_", " ").capitalize(), openapi_extra={
                              "parameters": [_path_param("id")], "responses": ERRORS,
                              "requestBody": {"required": True, "content": {
                                  "application/json": {"schema": ROUTES_BODY}}}})

    interface_action("add_router_interface", True)
    interface_action("remove_router_interface", False)
    routes_action("add_extraroutes", True)
    routes_action("remove_extraroutes", False)
