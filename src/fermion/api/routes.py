"""The generic CRUD routes for a resource, derived from its attribute map.

For each resource (networks, subnets, ports, subnetpools): list, create (single and bulk),
show, update, delete, and the tag sub-resource. Each route also carries its OpenAPI
description (request body schema from the attribute map), so ``/openapi.json`` documents
the real API and fuzzers can drive it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from fermion import exceptions as exc
from fermion.api import request as req
from fermion.api.http import (
    dumps,
    identify,
    if_match,
    in_thread,
    json_response,
    read_body,
    select_fields,
)
from fermion.api.query import ListQuery, parse_list_query
from fermion.model.attributes import PORT, REQUIRED, Attr
from fermion.model.validators import Invalid
from fermion.model.validators import tag as valid_tag
from fermion.plugin import listing
from fermion.plugin.ports import SPECIAL_FILTERS as PORT_FILTERS


def add_resource(app: FastAPI, collection: str, member: str, attrs: dict[str, Attr]) -> None:
    special = PORT_FILTERS if attrs is PORT else frozenset()
    base = f"/v2.0/{collection.replace('_', '-')}"  # address_scopes: /address-scopes
    item_path = base + "/{id}"

    def resource(request: Request):
        return request.app.state.plugin.resources[collection]

    async def list_items(request: Request) -> Response:
        ctx = await identify(request)
        query = parse_list_query(list(request.query_params.multi_items()), attrs, special,
                                 request.app.state.max_limit)
        res, db = resource(request), request.app.state.plugin.db
        before = getattr(res, "before_list", None)  # e.g. security groups: make the default
        if before is not None:
            await in_thread(before, ctx, query)

        def run() -> bytes:
            # Serialised here, in the worker thread: the views are freed before the
            # garbage collector resumes, and the event loop never spends time on them.
            with listing.paused_gc():
                with db.read() as conn:
                    items, more = res.list(conn, ctx, query)
                body = {collection: select_fields(items, query.fields)}
                links = _links(request, query, items, more)
                if links:
                    body[f"{collection}_links"] = links
                return dumps(body)

        return Response(await in_thread(run), media_type="application/json")

    async def create(request: Request) -> Response:
        ctx = await identify(request)
        raw_items, bulk = req.parse_body(await read_body(request), member, collection, True)
        items = [req.for_create(member, attrs, raw, ctx) for raw in raw_items]
        res, db = resource(request), request.app.state.plugin.db

        def run(conn):
            ids = [res.create(conn, ctx, item, raw=raw) for item, raw in zip(items, raw_items,
                                                                           strict=True)]
            return res.show_many(conn, ctx, ids)

        views = await in_thread(db.write, run)
        return json_response({collection: views} if bulk else {member: views[0]}, 201)

    async def show(request: Request) -> Response:
        ctx = await identify(request)
        fields = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
        res, db = resource(request), request.app.state.plugin.db
        resource_id = request.path_params["id"]

        view = await in_thread(db.query, lambda conn: res.show(conn, ctx, resource_id))
        return json_response({member: select_fields([view], fields)[0]})

    async def update(request: Request) -> Response:
        ctx = await identify(request)
        raw_items, _ = req.parse_body(await read_body(request), member, collection, False)
        changes = req.for_update(member, attrs, raw_items[0], ctx)
        revision = if_match(request)
        res, db = resource(request), request.app.state.plugin.db
        resource_id = request.path_params["id"]

        def run(conn):
            res.update(conn, ctx, resource_id, changes, if_match=revision, raw=raw_items[0])
            return res.show(conn, ctx, resource_id)

        return json_response({member: await in_thread(db.write, run)})

    async def delete(request: Request) -> Response:
        ctx = await identify(request)
        revision = if_match(request)
        res, db = resource(request), request.app.state.plugin.db
        resource_id = request.path_params["id"]
        await in_thread(db.write, lambda conn: res.delete(conn, ctx, resource_id,
                                                           if_match=revision))
        return Response(status_code=204)

    name = member.capitalize()
    extra = _openapi(member, attrs)
    app.add_api_route(base, list_items, methods=["GET"], name=f"List {collection}",
                      openapi_extra=extra["list"])
    app.add_api_route(base, create, methods=["POST"], name=f"Create {member}",
                      status_code=201, openapi_extra=extra["create"])
    app.add_api_route(item_path, show, methods=["GET"], name=f"Show {name}",
                      openapi_extra=extra["show"])
    app.add_api_route(item_path, update, methods=["PUT"], name=f"Update {name}",
                      openapi_extra=extra["update"])
    app.add_api_route(item_path, delete, methods=["DELETE"], name=f"Delete {name}",
                      status_code=204, openapi_extra=extra["show"])
    if "tags" in attrs:  # not every resource has tags (address scopes have none)
        _add_tags(app, collection, member)


def _links(request: Request, query: ListQuery, items: list[dict], more: bool) -> list[dict]:
    """Neutron's ``<collection>_links``: next when more rows follow, previous after a marker."""
    if not query.limit or not items:
        return []
    params = [(k, v) for k, v in request.query_params.multi_items()
              if k not in ("marker", "page_reverse")]
    base = str(request.url.replace(query=""))
    links = []
    forward_more = more if not query.page_reverse else query.marker is not None
    backward_more = query.marker is not None if not query.page_reverse else more
    if forward_more:
        links.append({"rel": "next",
                      "href": base + "?" + urlencode(params + [("marker", items[-1]["id"])])})
    if backward_more:
        links.append({"rel": "previous", "href": base + "?" + urlencode(
            params + [("marker", items[0]["id"]), ("page_reverse", "True")])})
    return links


def _add_tags(app: FastAPI, collection: str, member: str) -> None:
    path = f"/v2.0/{collection.replace('_', '-')}/{{id}}/tags"

    def resource(request: Request):
        return request.app.state.plugin.resources[collection]

    async def change(request: Request, fn) -> object:
        ctx = await identify(request)
        res, plugin = resource(request), request.app.state.plugin

        def run(conn):
            row = res.writable_row(conn, ctx, request.path_params["id"], "update")
            result = fn(conn, plugin.tags, row)
            res.update_row(conn, row, {})
            return result

        return await in_thread(plugin.db.write, run)

    def one_tag(request: Request) -> str:
        try:
            return valid_tag(request.path_params["tag"])
        except Invalid as error:
            raise exc.HTTPBadRequest(msg=f"Invalid input for tag. Reason: {error}.") from None

    async def get_all(request: Request) -> Response:
        ctx = await identify(request)
        res, plugin = resource(request), request.app.state.plugin

        def run(conn):
            row = res.get_row(conn, ctx, request.path_params["id"])
            return plugin.tags.get(conn, row.id)

        return json_response({"tags": await in_thread(plugin.db.query, run)})

    async def get_one(request: Request) -> Response:
        ctx = await identify(request)
        tag = request.path_params["tag"]
        res, plugin = resource(request), request.app.state.plugin

        def run(conn):
            row = res.get_row(conn, ctx, request.path_params["id"])
            if tag not in plugin.tags.get(conn, row.id):
                raise exc.TagNotFound(tag=tag, resource=member, resource_id=row.id)

        await in_thread(plugin.db.query, run)
        return Response(status_code=204)

    async def replace(request: Request) -> Response:
        body = req.load_json(await read_body(request))
        if not isinstance(body, dict) or not isinstance(body.get("tags"), list):
            raise exc.HTTPBadRequest(msg="Invalid input for tags. Reason: a list of tags "
                                     "in 'tags' is required.")
        try:
            tags = [valid_tag(t) for t in body["tags"]]
        except Invalid as error:
            raise exc.HTTPBadRequest(msg=f"Invalid input for tags. Reason: {error}.") from None
        await change(request, lambda conn, t, row: t.replace(conn, member, row.id, tags))
        return json_response({"tags": sorted(set(tags))})

    async def add(request: Request) -> Response:
        tag = one_tag(request)
        await change(request, lambda conn, t, row: t.add(conn, member, row.id, tag))
        return Response(status_code=201)

    async def remove_all(request: Request) -> Response:
        await change(request, lambda conn, t, row: t.replace(conn, member, row.id, []))
        return Response(status_code=204)

    async def remove(request: Request) -> Response:
        tag = request.path_params["tag"]
        await change(request, lambda conn, t, row: t.remove(conn, member, row.id, tag))
        return Response(status_code=204)

    params = [_path_param("id")]
    tag_params = params + [_path_param("tag")]
    body = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["tags"],
        "properties": {"tags": {"type": "array", "items": {"type": "string"}}}}}}},
        "parameters": params}
    app.add_api_route(path, get_all, methods=["GET"], name=f"List {member} tags",
                      openapi_extra={"parameters": params})
    app.add_api_route(path, replace, methods=["PUT"], name=f"Replace {member} tags",
                      openapi_extra=body)
    app.add_api_route(path, remove_all, methods=["DELETE"], name=f"Remove {member} tags",
                      status_code=204, openapi_extra={"parameters": params})
    app.add_api_route(path + "/{tag}", get_one, methods=["GET"], name=f"Check {member} tag",
                      status_code=204, openapi_extra={"parameters": tag_params})
    app.add_api_route(path + "/{tag}", add, methods=["PUT"], name=f"Add {member} tag",
                      status_code=201, openapi_extra={"parameters": tag_params})
    app.add_api_route(path + "/{tag}", remove, methods=["DELETE"], name=f"Remove {member} tag",
                      status_code=204, openapi_extra={"parameters": tag_params})


# -- OpenAPI ---------------------------------------------------------------------------------

ERRORS = {str(code): {"description": text, "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/NeutronError"}}}} for code, text in (
    (400, "Bad request"), (401, "Unauthorized"), (403, "Forbidden"), (404, "Not found"),
    (409, "Conflict"), (412, "Precondition failed"), (413, "Request too large"))}


def _path_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _openapi(member: str, attrs: dict[str, Attr]) -> dict[str, dict]:
    def body_schema(action: str) -> dict:
        props = {name: a.schema for name, a in attrs.items()
                 if (a.post if action == "create" else a.put)}
        required = [n for n, a in attrs.items() if action == "create" and a.default is REQUIRED]
        inner = {"type": "object", "properties": props, "additionalProperties": False}
        if required:
            inner["required"] = required
        return {"type": "object", "required": [member], "properties": {member: inner}}

    def with_body(action: str, params: list) -> dict:
        return {"parameters": params, "responses": ERRORS, "requestBody": {
            "required": True, "content": {"application/json": {"schema": body_schema(action)}}}}

    filters = [{"name": name, "in": "query", "required": False,
                "schema": {"type": "string"}} for name, a in attrs.items() if a.filter]
    paging = [{"name": n, "in": "query", "required": False, "schema": s} for n, s in (
        ("limit", {"type": "integer"}), ("marker", {"type": "string"}),
        ("sort_key", {"type": "string"}), ("sort_dir", {"type": "string",
                                                        "enum": ["asc", "desc"]}),
        ("fields", {"type": "string"}), ("page_reverse", {"type": "boolean"}))]
    ident = [_path_param("id")]
    return {
        "list": {"parameters": filters + paging, "responses": ERRORS},
        "create": with_body("create", []),
        "show": {"parameters": ident, "responses": ERRORS},
        "update": with_body("update", ident),
    }
