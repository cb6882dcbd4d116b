"""Neutron's default policy, attribute part: who may set which attribute.

The attribute maps (``model.attributes*``) mark each attribute's ``policy``: None (anyone
who may write the resource), "admin", or "network_owner" (the owner of the port's network,
or an admin). ``enforce_attributes`` is applied by the API to every create and update, as
the request arrives; ``enforce_network_owner`` by ``plugin.ports``, which knows who owns the
network. Either raises ``PolicyNotAuthorized`` naming the rule, as Neutron words it.
Which objects a caller may see or change at all is each resource's ``visible``/``owns``
(``plugin.base``). Pure: no database access.
"""

from __future__ import annotations

from fermion import exceptions as exc
from fermion.model.attributes import Attr
from fermion.model.context import Context


def enforce_attributes(ctx: Context, action: str, resource: str, attrs: dict[str, Attr],
                       item: dict) -> None:
    """Role and admin-only attribute checks (Neutron's default policy, attribute part)."""
    rule = f"{action}_{resource}"
    if not ctx.can_write:
        raise exc.PolicyNotAuthorized(action=f"rule:{rule}")
    if ctx.is_admin:
        return
    for name in item:
        attr = attrs.get(name)
        if attr is not None and attr.policy == "admin":
            if action == "create" and item[name] == attr.default:
                continue  # giving the default value explicitly is harmless
            raise exc.PolicyNotAuthorized(action=f"(rule:{rule} and rule:{rule}:{name})")


def enforce_network_owner(ctx: Context, action: str, resource: str, attrs: dict[str, Attr],
                          item: dict, owns_network: bool) -> None:
    """Attributes only the network's owner (or an admin) may set, e.g. a port's MAC."""
    if ctx.is_admin or owns_network:
        return
    rule = f"{action}_{resource}"
    for name in item:
        attr = attrs.get(name)
        if attr is not None and attr.policy == "network_owner":
            raise exc.PolicyNotAuthorized(action=f"(rule:{rule} and rule:{rule}:{name})")
    for fixed_ip in item.get("fixed_ips") or []:
        if isinstance(fixed_ip, dict) and "ip_address" in fixed_ip:
            raise exc.PolicyNotAuthorized(
                action=f"(rule:{rule} and rule:{rule}:fixed_ips:ip_address)")
    owner = item.get("device_owner")
    if isinstance(owner, str) and owner.startswith("network:"):
        raise exc.PolicyNotAuthorized(action=f"(rule:{rule} and rule:{rule}:device_owner)")
