"""Agents and their scheduling: Neutron's ``agent``, ``dhcp_agent_scheduler`` and
``l3_agent_scheduler`` extensions, plus the state report agents send.

  POST   /v2.0/fermion/agents/report              state report / heartbeat (admin)
  GET    /v2.0/agents                             list (filters: agent_type, host, alive…)
  GET    /v2.0/agents/{id}   PUT (admin_state_up, description)   DELETE
  GET    /v2.0/agents/{id}/dhcp-networks          POST {"network_id"}   DELETE …/{network_id}
  GET    /v2.0/networks/{id}/dhcp-agents
  GET    /v2.0/agents/{id}/l3-routers             POST {"router_id"}    DELETE …/{router_id}
  GET    /v2.0/routers/{id}/l3-agents

Everything here is admin-only, as in Neutron's default policy: a non-admin lists no agents
and finds none (404); the scheduler sub-resources answer 403.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from fermion import exceptions as exc
from fermion.api import request as req
from fermion.api.http import identify, in_thread, json_response, read_body, select_fields
from fermion.api.query import parse_list_query
from fermion.api.routes import ERRORS, _links, _path_param
from fermion.api.routes_feed import require_admin
from fermion.model.attributes_agents import AGENT
from fermion.plugin.agents import ADMIN
from fermion.plugin.scheduler import NETWORKS, ROUTERS


def add_agent_routes(app: FastAPI) -> None:
    _agents(app)
    _scheduling(app, NETWORKS, "dhcp-networks", "dhcp-agents", "networks", "network_id")
    _scheduling(app, ROUTERS, "l3-routers", "l3-agents", "routers", "router_id")


def _agents(app: FastAPI) -> None:
    base, item = "/v2.0/agents", "/v2.0/agents/{id}"

    async def report(request: Request) -> Response:
        ctx = await identify(request)
        require_admin(ctx, "report_fermion_agent_state")
        body = req.load_json(await read_body(request))
        plugin = request.app.state.plugin
        view, status = await in_thread(plugin.db.write,
                                       lambda conn: plugin.agents.report(conn, body))
        return json_response({"agent": view, "agent_status": status},
                             201 if status == "new" else 200)

    async def list_agents(request: Request) -> Response:
        ctx = await identify(request)
        query = parse_list_query(list(request.query_params.multi_items()), AGENT,
                                 max_limit=request.app.state.max_limit)
        plugin = request.app.state.plugin

        items, more = await in_thread(plugin.db.query,
                                      lambda conn: plugin.agents.list(conn, ctx, query))
        body = {"agents": select_fields(items, query.fields)}
        links = _links(request, query, items, more)
        if links:
            body["agents_links"] = links
        return json_response(body)

    async def show(request: Request) -> Response:
        ctx = await identify(request)
        fields = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
        plugin = request.app.state.plugin

        view = await in_thread(plugin.db.query, lambda conn: plugin.agents.show(
            conn, ctx, request.path_params["id"]))
        return json_response({"agent": select_fields([view], fields)[0]})

    async def update(request: Request) -> Response:
        ctx = await identify(request)
        raw, _ = req.parse_body(await read_body(request), "agent", "agents", False)
        plugin = request.app.state.plugin
        agent_id = request.path_params["id"]

        def run(conn):
            plugin.agents.get_row(conn, ctx, agent_id)  # 404 first, as for any invisible object
            changes = req.for_update("agent", AGENT, raw[0], ctx)
            plugin.agents.update(conn, ctx, agent_id, changes)
            return plugin.agents.show(conn, ctx, agent_id)

        return json_response({"agent": await in_thread(plugin.db.write, run)})

    async def delete(request: Request) -> Response:
        ctx = await identify(request)
        plugin = request.app.state.plugin
        await in_thread(plugin.db.write, lambda conn: plugin.agents.delete(
            conn, ctx, request.path_params["id"]))
        return Response(status_code=204)

    ident = {"parameters": [_path_param("id")], "responses": ERRORS}
    filters = [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
               for name, attr in AGENT.items() if attr.filter]
    app.add_api_route("/v2.0/fermion/agents/report", report, methods=["POST"],
                      name="Report agent state", status_code=200,
                      description="An agent's state report (heartbeat): creates or refreshes "
                                  "the agent of (agent_type, host).",
                      openapi_extra={"responses": ERRORS, "requestBody": {
                          "required": True, "content": {"application/json": {"schema": {
                              "type": "object", "required": ["agent"], "properties": {
                                  "agent": {"type": "object",
                                            "required": ["agent_type", "host"]}}}}}}})
    app.add_api_route(base, list_agents, methods=["GET"], name="List agents",
                      openapi_extra={"parameters": filters, "responses": ERRORS})
    app.add_api_route(item, show, methods=["GET"], name="Show agent", openapi_extra=ident)
    app.add_api_route(item, update, methods=["PUT"], name="Update agent", openapi_extra={
        **ident, "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"type": "object", "required": ["agent"], "properties": {"agent": {
                "type": "object", "additionalProperties": False, "properties": {
                    "admin_state_up": {"type": "boolean"},
                    "description": {"type": "string", "maxLength": 255}}}}}}}}})
    app.add_api_route(item, delete, methods=["DELETE"], name="Delete agent", status_code=204,
                      openapi_extra=ident)


def _scheduling(app: FastAPI, kind, hosted: str, hosting: str, collection: str,
                key: str) -> None:
    """``/agents/{id}/<hosted>`` (list, add, remove) and ``/<collection>/{id}/<hosting>``."""
    path = f"/v2.0/agents/{{id}}/{hosted}"

    async def context(request: Request, action: str):
        ctx = await identify(request)
        require_admin(ctx, action)
        return request.app.state.plugin

    async def list_hosted(request: Request) -> Response:
        plugin = await context(request, f"get_{hosted}")

        def run(conn):
            rows = plugin.scheduler.hosted_by(conn, kind, request.path_params["id"])
            return plugin.resources[collection].views(conn, ADMIN, rows) if rows else []

        return json_response({collection: await in_thread(plugin.db.query, run)})

    async def add(request: Request) -> Response:
        plugin = await context(request, f"create_{hosted}")
        body = req.load_json(await read_body(request))
        if not isinstance(body, dict) or not isinstance(body.get(key), str):
            raise exc.bad(f"Unable to find '{key}' in request body")
        await in_thread(plugin.db.write, lambda conn: plugin.scheduler.add(
            conn, kind, request.path_params["id"], body[key]))
        return json_response(None, 201)

    async def remove(request: Request) -> Response:
        plugin = await context(request, f"delete_{hosted}")
        await in_thread(plugin.db.write, lambda conn: plugin.scheduler.remove(
            conn, kind, request.path_params["id"], request.path_params["object_id"]))
        return Response(status_code=204)

    async def list_hosting(request: Request) -> Response:
        plugin = await context(request, f"get_{hosting}")

        def run(conn):
            return plugin.agents.views(plugin.scheduler.agents_hosting(
                conn, kind, request.path_params["id"]))

        return json_response({"agents": await in_thread(plugin.db.query, run)})

    ident = {"parameters": [_path_param("id")], "responses": ERRORS}
    app.add_api_route(path, list_hosted, methods=["GET"], name=f"List {hosted} of agent",
                      openapi_extra=ident)
    app.add_api_route(path, add, methods=["POST"], name=f"Add {hosted} to agent",
                      status_code=201, openapi_extra={**ident, "requestBody": {
                          "required": True, "content": {"application/json": {"schema": {
                              "type": "object", "required": [key],
                              "properties": {key: {"type": "string"}}}}}}})
    app.add_api_route(path + "/{object_id}", remove, methods=["DELETE"],
                      name=f"Remove {hosted} from agent", status_code=204,
                      openapi_extra={"parameters": [_path_param("id"), _path_param("object_id")],
                                     "responses": ERRORS})
    app.add_api_route(f"/v2.0/{collection}/{{id}}/{hosting}", list_hosting, methods=["GET"],
                      name=f"List {hosting} of {collection[:-1]}", openapi_extra=ident)
