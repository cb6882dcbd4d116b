"""Version discovery, ``flavors`` and ``os-keypairs`` of the Compute API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fermion.compute import catalog, keypairs
from fermion.compute.http import (
    bad,
    base_url,
    identify,
    in_thread,
    json_response,
    not_found,
    read_json,
    require_writer,
)
from fermion.compute.validation import KEYPAIR_CREATE, validate

MIN_VERSION = MAX_VERSION = "2.1"
UPDATED = "2013-07-23T11:33:21Z"


def version_doc(base: str) -> dict:
    return {"id": "v2.1", "status": "CURRENT", "version": MAX_VERSION,
            "min_version": MIN_VERSION, "updated": UPDATED,
            "links": [{"rel": "self", "href": f"{base}/v2.1/"}]}


async def versions(request: Request) -> Response:
    return json_response({"versions": [version_doc(base_url(request))]})


async def version(request: Request) -> Response:
    doc = version_doc(base_url(request))
    doc["links"].append({"rel": "describedby", "type": "text/html",
                         "href": "https://docs.openstack.org/"})
    doc["media-types"] = [{"base": "application/json",
                           "type": "application/vnd.openstack.compute+json;version=2.1"}]
    return json_response({"version": doc})


# -- flavors -------------------------------------------------------------------------------

def _int_param(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "0")
    try:
        return int(raw)
    except ValueError:
        raise bad(f"Invalid {name} filter [{raw}]") from None


def _flavors(request: Request) -> list[catalog.Flavor]:
    flavors = catalog.flavor_list(_int_param(request, "minRam"), _int_param(request, "minDisk"))
    marker = request.query_params.get("marker")
    if marker:
        ids = [f.id for f in flavors]
        if marker not in ids:
            raise bad(f"marker [{marker}] not found")
        flavors = flavors[ids.index(marker) + 1:]
    if "limit" in request.query_params:
        flavors = flavors[:_int_param(request, "limit")]
    return flavors


async def flavor_list(request: Request) -> Response:
    identify(request, "")
    base = base_url(request)
    return json_response({"flavors": [catalog.flavor_summary(f, base)
                                      for f in _flavors(request)]})


async def flavor_detail_list(request: Request) -> Response:
    identify(request, "")
    base = base_url(request)
    return json_response({"flavors": [catalog.flavor_detail(f, base)
                                      for f in _flavors(request)]})


async def flavor_show(request: Request) -> Response:
    flavor_id = request.path_params["flavor_id"]
    flavor = catalog.flavor(flavor_id)
    if flavor is None:
        raise not_found(f"Flavor {flavor_id} could not be found.")
    return json_response({"flavor": catalog.flavor_detail(flavor, base_url(request))})


async def flavor_extra_specs(request: Request) -> Response:
    flavor_id = request.path_params["flavor_id"]
    if catalog.flavor(flavor_id) is None:
        raise not_found(f"Flavor {flavor_id} could not be found.")
    return json_response({"extra_specs": {}})


# -- key pairs -----------------------------------------------------------------------------

def _caller(request: Request):
    return identify(request, request.app.state.compute.settings.default_project)


def _user(request: Request, caller) -> str:
    """Admins may name another user (``?user_id=``), as in Nova."""
    wanted = request.query_params.get("user_id")
    return wanted if wanted and caller.is_admin else caller.user_id


async def keypair_create(request: Request) -> Response:
    caller = _caller(request)
    require_writer(caller, "os-keypairs:create")
    body = await read_json(request)
    validate(KEYPAIR_CREATE, body)
    svc = request.app.state.compute
    item = body["keypair"]
    view = await in_thread(svc.store.write, lambda conn: keypairs.create(
        conn, caller.user_id, item["name"], item.get("public_key"),
        svc.settings.quota_key_pairs))
    return json_response({"keypair": view})


async def keypair_list(request: Request) -> Response:
    caller = _caller(request)
    user = _user(request, caller)
    store = request.app.state.compute.store
    return json_response({"keypairs": await in_thread(
        store.query, lambda conn: keypairs.listing(conn, user))})


async def keypair_show(request: Request) -> Response:
    caller = _caller(request)
    user, name = _user(request, caller), request.path_params["name"]
    store = request.app.state.compute.store
    row = await in_thread(store.query, lambda conn: keypairs.get(conn, user, name))
    return json_response({"keypair": keypairs.detail(row)})


async def keypair_delete(request: Request) -> Response:
    caller = _caller(request)
    require_writer(caller, "os-keypairs:delete")
    user, name = _user(request, caller), request.path_params["name"]
    store = request.app.state.compute.store
    await in_thread(store.write, lambda conn: keypairs.remove(conn, user, name))
    return Response(status_code=202)


ROUTES = [
    Route("/", versions, methods=["GET"]),
    Route("/v2.1", version, methods=["GET"]),
    Route("/v2.1/", version, methods=["GET"]),
    Route("/v2.1/flavors", flavor_list, methods=["GET"]),
    Route("/v2.1/flavors/detail", flavor_detail_list, methods=["GET"]),
    Route("/v2.1/flavors/{flavor_id}", flavor_show, methods=["GET"]),
    Route("/v2.1/flavors/{flavor_id}/os-extra_specs", flavor_extra_specs, methods=["GET"]),
    Route("/v2.1/os-keypairs", keypair_create, methods=["POST"]),
    Route("/v2.1/os-keypairs", keypair_list, methods=["GET"]),
    Route("/v2.1/os-keypairs/{name}", keypair_show, methods=["GET"]),
    Route("/v2.1/os-keypairs/{name}", keypair_delete, methods=["DELETE"]),
]
