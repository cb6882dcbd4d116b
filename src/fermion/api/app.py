"""The ASGI application: version documents, extensions, resources, quotas, IP availability.

``create_app(conf)`` builds the plugin (which checks the ML2 settings: ``ConfigError``),
migrates the database to the newest schema, builds the identity strategy and mounts every
route. Errors of any kind leave in
Neutron's ``NeutronError`` form.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from fermion import __version__
from fermion import exceptions as exc
from fermion.api import request as req
from fermion.api.auth import make_auth
from fermion.api.extensions import extension_list
from fermion.api.http import (
    AuthFailed,
    RejectNul,
    error_response,
    identify,
    in_thread,
    json_response,
    read_body,
)
from fermion.api.routes import add_resource
from fermion.api.routes_agents import add_agent_routes
from fermion.api.routes_feed import add_feed_routes
from fermion.api.routes_l3 import add_l3_routes
from fermion.db.engine import Database, create_schema
from fermion.model import attributes as attrs
from fermion.model import attributes_l3 as attrs_l3
from fermion.model import attributes_sg as attrs_sg
from fermion.model import validators
from fermion.plugin.core import Plugin
from fermion.plugin.ip_availability import availabilities
from fermion.plugin.quotas import RESOURCES as QUOTA_RESOURCES

LOG = logging.getLogger(__name__)

RESOURCES = [("networks", "network", attrs.NETWORK), ("subnets", "subnet", attrs.SUBNET),
             ("ports", "port", attrs.PORT), ("subnetpools", "subnetpool", attrs.SUBNETPOOL)]
RESOURCES += [("routers", "router", attrs_l3.ROUTER),
              ("floatingips", "floatingip", attrs_l3.FLOATINGIP),
              ("address_scopes", "address_scope", attrs_l3.ADDRESS_SCOPE)]
RESOURCES += [("security_groups", "security_group", attrs_sg.SECURITY_GROUP),
              ("security_group_rules", "security_group_rule", attrs_sg.SECURITY_GROUP_RULE)]


def create_app(conf, db: Database | None = None) -> FastAPI:
    db = db or Database(conf.get("database", "connection"))
    plugin = Plugin(conf, db)  # checks the ML2 settings (ConfigError) before the schema
    create_schema(db)
    app = FastAPI(title="Fermion Networking API", version=__version__,
                  description="OpenStack Networking API v2.0 (Neutron-compatible)",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  lifespan=_lifespan)
    app.state.plugin = plugin
    app.state.auth = make_auth(conf)
    app.state.max_body = conf.get("oslo_middleware", "max_request_body_size")
    app.state.max_limit = conf.get("DEFAULT", "pagination_max_limit")
    app.add_middleware(RejectNul)
    _error_handlers(app)
    _root_routes(app)
    add_feed_routes(app)  # first: watchers' long-polls are the hottest path (routes match in order)
    for collection, member, attr_map in RESOURCES:
        add_resource(app, collection, member, attr_map)
    add_l3_routes(app)
    add_agent_routes(app)
    _quota_routes(app)
    _availability_routes(app)
    _openapi_components(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """Start the plugin's background work (change feed, periodic tasks) with the server."""
    await app.state.plugin.start()
    try:
        yield
    finally:
        await app.state.plugin.stop()


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(exc.NeutronError)
    async def neutron_error(_request: Request, error: exc.NeutronError) -> Response:
        return error_response(error)

    @app.exception_handler(AuthFailed)
    async def auth_failed(_request: Request, error: AuthFailed) -> Response:
        return Response(error.body, status_code=error.status, headers=dict(error.headers))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 405:
            return error_response(exc.HTTPMethodNotAllowed(method=_request.method))
        if error.status_code == 404:
            return error_response(exc.HTTPNotFound())
        return error_response(exc.NeutronError(str(error.detail)))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, error: RequestValidationError) -> Response:
        return error_response(exc.HTTPBadRequest(msg=str(error)))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> Response:
        LOG.exception("unexpected error serving %s %s", _request.method, _request.url.path)
        return error_response(exc.NeutronError("Request Failed: internal server error while "
                                               "processing your request."))


def _root_routes(app: FastAPI) -> None:
    @app.get("/", name="List API versions")
    async def versions(request: Request) -> Response:
        href = str(request.base_url).rstrip("/") + "/v2.0/"
        return json_response({"versions": [{"id": "v2.0", "status": "CURRENT",
                                            "links": [{"href": href, "rel": "self"}]}]})

    @app.get("/v2.0", name="List API resources")
    @app.get("/v2.0/", include_in_schema=False)
    async def resources(request: Request) -> Response:
        await identify(request)
        base = str(request.base_url).rstrip("/") + "/v2.0/"
        return json_response({"resources": [
            {"name": member, "collection": collection,
             "links": [{"href": base + collection.replace("_", "-"), "rel": "self"}]}
            for collection, member, _ in RESOURCES]})

    @app.get("/v2.0/extensions", name="List extensions")
    async def extensions(request: Request) -> Response:
        await identify(request)
        return json_response({"extensions": extension_list()})

    @app.get("/v2.0/extensions/{alias}", name="Show extension")
    async def extension(request: Request, alias: str) -> Response:
        await identify(request)
        for ext in extension_list():
            if ext["alias"] == alias:
                return json_response({"extension": ext})
        raise exc.ExtensionNotFound(extension_alias=alias)


def _quota_routes(app: FastAPI) -> None:
    def own_or_admin(ctx, project_id: str) -> None:
        if not ctx.is_admin and ctx.project_id != project_id:
            raise exc.PolicyNotAuthorized(action="rule:get_quota")

    @app.get("/v2.0/quotas", name="List quotas")
    async def list_quotas(request: Request) -> Response:
        ctx = await identify(request)
        plugin = request.app.state.plugin

        def run(conn):
            projects = plugin.quotas.projects_with_overrides(conn)
            if not ctx.is_admin:
                projects = [p for p in projects if p == ctx.project_id]
            return [{**plugin.quotas.limits(conn, p), "project_id": p, "tenant_id": p}
                    for p in projects]

        return json_response({"quotas": await in_thread(plugin.db.query, run)})

    @app.get("/v2.0/quotas/{project_id}", name="Show quota")
    async def show_quota(request: Request, project_id: str) -> Response:
        ctx = await identify(request)
        own_or_admin(ctx, project_id)
        plugin = request.app.state.plugin

        return json_response({"quota": await in_thread(
            plugin.db.query, lambda conn: plugin.quotas.limits(conn, project_id))})

    @app.get("/v2.0/quotas/{project_id}/default", name="Show default quota")
    async def default_quota(request: Request, project_id: str) -> Response:
        ctx = await identify(request)
        own_or_admin(ctx, project_id)
        return json_response({"quota": request.app.state.plugin.quotas.defaults()})

    @app.get("/v2.0/quotas/{project_id}/details", name="Show quota details")
    async def quota_details(request: Request, project_id: str) -> Response:
        ctx = await identify(request)
        own_or_admin(ctx, project_id)
        plugin = request.app.state.plugin

        def run(conn):
            limits = plugin.quotas.limits(conn, project_id)
            used = {r.member: r.count(conn, project_id) for r in plugin.resources.values()}
            return {name: {"limit": limit, "used": used.get(name, 0), "reserved": 0}
                    for name, limit in limits.items()}

        return json_response({"quota": await in_thread(plugin.db.query, run)})

    @app.put("/v2.0/quotas/{project_id}", name="Update quota", openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["quota"], "properties": {"quota": {
                "type": "object", "additionalProperties": False, "properties": {
                    name: {"type": "integer", "minimum": -1} for name in QUOTA_RESOURCES}}}}}}}})
    async def update_quota(request: Request, project_id: str) -> Response:
        ctx = await identify(request)
        if not ctx.is_admin:
            raise exc.PolicyNotAuthorized(action="rule:update_quota")
        body = req.load_json(await read_body(request))
        values = _quota_values(body)
        plugin = request.app.state.plugin

        def run(conn):
            plugin.quotas.update(conn, project_id, values)
            return plugin.quotas.limits(conn, project_id)

        return json_response({"quota": await in_thread(plugin.db.write, run)})

    @app.delete("/v2.0/quotas/{project_id}", name="Reset quota", status_code=204)
    async def reset_quota(request: Request, project_id: str) -> Response:
        ctx = await identify(request)
        if not ctx.is_admin:
            raise exc.PolicyNotAuthorized(action="rule:delete_quota")
        plugin = request.app.state.plugin
        await in_thread(plugin.db.write, lambda conn: plugin.quotas.reset(conn, project_id))
        return Response(status_code=204)


def _quota_values(body: object) -> dict[str, int]:
    if not isinstance(body, dict) or not isinstance(body.get("quota"), dict):
        raise exc.bad("Unable to find 'quota' in request body")
    values = body["quota"]
    unknown = sorted(k for k in values if k not in QUOTA_RESOURCES)
    if unknown:
        raise exc.bad(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    out = {}
    for name, value in values.items():
        try:
            out[name] = validators.integer(-1)(value)
        except validators.Invalid:
            raise exc.bad(f"Invalid input for {name}. Reason: '{value}' is not a valid "
                          "quota value (an integer from -1, for unlimited, to "
                          f"{validators.INT_MAX}).") from None
    return out


def _availability_routes(app: FastAPI) -> None:
    allowed = {"network_id", "network_name", "ip_version", "project_id", "tenant_id"}

    async def fetch(request: Request, filters: dict) -> list[dict]:
        ctx = await identify(request)
        if not ctx.is_admin:
            raise exc.PolicyNotAuthorized(action="rule:get_network_ip_availability")
        plugin = request.app.state.plugin

        return await in_thread(plugin.db.query, lambda conn: availabilities(conn, filters))

    @app.get("/v2.0/network-ip-availabilities", name="List network IP availability")
    async def list_availability(request: Request) -> Response:
        filters: dict[str, list] = {}
        for key, value in request.query_params.multi_items():
            if key == "fields":
                continue
            if key not in allowed:
                raise exc.bad(f"[{key}] is invalid attribute for filtering")
            filters.setdefault("project_id" if key == "tenant_id" else key, []).append(value)
        if "ip_version" in filters:
            try:
                filters["ip_version"] = [validators.integer()(v) for v in filters["ip_version"]]
            except validators.Invalid as error:
                raise exc.bad(f"Invalid input for ip_version. Reason: {error}.") from None
        return json_response({"network_ip_availabilities": await fetch(request, filters)})

    @app.get("/v2.0/network-ip-availabilities/{network_id}", name="Show network IP availability")
    async def show_availability(request: Request, network_id: str) -> Response:
        found = await fetch(request, {"network_id": [network_id]})
        if not found:
            raise exc.NetworkNotFound(net_id=network_id)
        return json_response({"network_ip_availability": found[0]})


def _openapi_components(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {})["NeutronError"] = {
            "type": "object", "required": ["NeutronError"], "properties": {"NeutronError": {
                "type": "object", "required": ["type", "message", "detail"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"},
                               "detail": {"type": "string"}}}}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
