"""The Image API v2 subset (Glance's role, port 9292): the built-in images, read only.

``GET /`` and ``/versions`` (version discovery), ``GET /v2/images`` (Glance's equality
filters, ``limit``/``marker`` with ``next``) and ``GET /v2/images/{id}`` — what
``openstack image list/show`` and ``server create --image NAME`` use. Errors are Glance's
plain-text bodies ("404 Not Found\\n\\nNo image found with ID …").
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from fermion.compute import catalog
from fermion.compute.http import base_url, json_response

PAGING = {"limit", "marker", "sort", "sort_key", "sort_dir"}
REASONS = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


def _versions(request: Request) -> dict:
    href = f"{base_url(request)}/v2/"
    return {"versions": [{"id": f"v2.{minor}", "status": "CURRENT" if minor == 16
                          else "SUPPORTED", "links": [{"rel": "self", "href": href}]}
                         for minor in range(16, -1, -1)]}


async def root(request: Request) -> Response:
    return json_response(_versions(request), 300)


async def versions(request: Request) -> Response:
    return json_response(_versions(request))


def glance_error(status: int, message: str) -> Response:
    return PlainTextResponse(f"{status} {REASONS.get(status, 'Error')}\n\n{message}\n\n   ",
                             status)


async def image_list(request: Request) -> Response:
    params = dict(request.query_params)
    filters = {k: v for k, v in params.items() if k not in PAGING}
    views = [v for v in (catalog.image_view(i) for i in catalog.IMAGES)
             if catalog.image_matches(v, filters)]
    views.sort(key=lambda v: v["name"])
    if params.get("marker"):
        ids = [v["id"] for v in views]
        if params["marker"] not in ids:
            return glance_error(400, f"marker not found: {params['marker']}")
        views = views[ids.index(params["marker"]) + 1:]
    body: dict = {"first": "/v2/images", "schema": "/v2/schemas/images"}
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            return glance_error(400, "limit param must be an integer")
        if limit < 0:
            return glance_error(400, "limit param must be positive")
        if len(views) > limit:
            views = views[:limit]
            body["next"] = f"/v2/images?limit={limit}&marker={views[-1]['id']}" \
                if views else None
    body["images"] = views
    return json_response(body)


async def image_show(request: Request) -> Response:
    image_id = request.path_params["image_id"]
    img = catalog.image(image_id)
    if img is None:
        return glance_error(404, f"No image found with ID {image_id}")
    return json_response(catalog.image_view(img))


async def _http_error(_request: Request, error: HTTPException) -> Response:
    return glance_error(error.status_code, error.detail or "")


def create_image_app() -> Starlette:
    return Starlette(routes=[
        Route("/", root, methods=["GET"]),
        Route("/versions", versions, methods=["GET"]),
        Route("/v2/images", image_list, methods=["GET"]),
        Route("/v2/images/{image_id}", image_show, methods=["GET"]),
    ], exception_handlers={HTTPException: _http_error})
