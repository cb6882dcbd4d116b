"""Turning a request body into validated attributes, with Neutron's error wording.

``parse_body`` unwraps ``{"network": {...}}`` or the bulk ``{"networks": [...]}``;
``for_create`` / ``for_update`` check every attribute against the resource's map (unknown
ones, read-only ones, required ones, values) and apply the attribute-level policy
(``plugin.policy``). Pure: no database access.
"""

from __future__ import annotations

from typing import Any

import orjson

from fermion import exceptions as exc
from fermion.exceptions import bad
from fermion.model.attributes import AUTO, REQUIRED, Attr
from fermion.model.context import Context
from fermion.model.validators import Invalid
from fermion.plugin import policy


def load_json(raw: bytes) -> Any:
    if not raw:
        raise exc.MalformedRequestBody(reason="empty body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise exc.MalformedRequestBody(reason=f"invalid JSON: {error.msg}") from None


def parse_body(raw: bytes, member: str, collection: str, bulk: bool) -> tuple[list[dict], bool]:
    """The items in a create/update body and whether it was a bulk request."""
    body = load_json(raw)
    if not isinstance(body, dict):
        raise bad("Body contains invalid data")
    if bulk and collection in body and member not in body:
        items = body[collection]
        if not isinstance(items, list) or not items:
            raise bad("Resources required")
        if not all(isinstance(item, dict) for item in items):
            raise bad("Body contains invalid data")
        return items, True
    if member not in body:
        raise bad(f"Unable to find '{member}' in request body")
    item = body[member]
    if not isinstance(item, dict):
        raise bad("Body contains invalid data")
    return [item], False


def _check_unknown(attrs: dict[str, Attr], item: dict) -> None:
    unknown = sorted(key for key in item if key not in attrs)
    if unknown:
        raise bad(f"Unrecognized attribute(s) '{', '.join(unknown)}'")


def _validated(name: str, attr: Attr, value: Any) -> Any:
    try:
        return attr.validate(value) if attr.validate else value
    except Invalid as error:
        raise bad(f"Invalid input for {name}. Reason: {error}.") from None


def for_create(resource: str, attrs: dict[str, Attr], item: dict, ctx: Context) -> dict:
    """Validated attributes with static defaults filled in; AUTO ones only when given."""
    _check_unknown(attrs, item)
    out: dict[str, Any] = {}
    for name, attr in attrs.items():
        if name in item:
            if not attr.post:
                raise bad(f"Attribute '{name}' not allowed in POST")
            out[name] = _validated(name, attr, item[name])
        elif attr.default is REQUIRED:
            raise bad(f"Failed to parse request. Required attribute '{name}' not specified")
        elif attr.default is not AUTO:
            out[name] = _copy(attr.default)
    _owner(out, ctx)
    policy.enforce_attributes(ctx, "create", resource, attrs, item)
    return out


def for_update(resource: str, attrs: dict[str, Attr], item: dict, ctx: Context) -> dict:
    _check_unknown(attrs, item)
    out: dict[str, Any] = {}
    for name, value in item.items():
        attr = attrs[name]
        if not attr.put:
            raise bad(f"Cannot update read-only attribute {name}")
        out[name] = _validated(name, attr, value)
    policy.enforce_attributes(ctx, "update", resource, attrs, item)
    return out


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else dict(value) if isinstance(
        value, dict) else value


def _owner(out: dict, ctx: Context) -> None:
    """Settle project_id/tenant_id: equal when both given, the caller's own by default."""
    project = out.pop("project_id", None)
    tenant = out.pop("tenant_id", None)
    if project is not None and tenant is not None and project != tenant:
        raise bad("'project_id' and 'tenant_id' do not match")
    owner = project if project is not None else tenant
    if owner is None:
        owner = ctx.project_id
    elif owner != ctx.project_id and not ctx.is_admin:
        raise bad("Specifying 'project_id' or 'tenant_id' other than the authenticated "
                  "project in request requires admin privileges")
    out["project_id"] = owner
