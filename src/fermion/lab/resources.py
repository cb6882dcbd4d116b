"""The seed's demo, created through the public API as its demo playbook does.

The admin makes the provider networks (``flat-network``: external, shared); the demo
project makes its tenant networks, subnets, the router (gateway on the external network,
interfaces on its subnets), allows ICMP and SSH in its default security group and takes a
floating IP. Instances are what Nova would ask of Neutron: a port per instance bound to its
compute host (``binding:host_id``, ``device_owner compute:nova``, ``device_id`` = the
instance's uuid), plugged by the lab until the Compute API exists.

`create(api, demo)` returns what the rest of the lab needs (ids, addresses, MTUs).
"""

from __future__ import annotations

import uuid

from fermion.lab.client import Api
from fermion.lab.topology import Demo

LAB_NS = uuid.UUID("6f0e8a43-5d0b-4f2c-9c27-1c4a3f1e9b10")


def project_id(name: str) -> str:
    """A stable Keystone-style project id for the demo project's name."""
    return uuid.uuid5(LAB_NS, f"project:{name}").hex


def instance_uuid(lab: str, name: str) -> str:
    return str(uuid.uuid5(LAB_NS, f"instance:{lab}:{name}"))


def create(api: Api, demo: Demo, lab: str) -> dict:
    project = project_id(demo.project)
    out: dict = {"project": demo.project, "project_id": project, "networks": {},
                 "subnets": {}, "routers": {}, "instances": {}}
    for net in demo.networks:
        body: dict = {"name": net.name, "shared": net.shared, "router:external": net.external}
        owner = project  # the demo project's: made by it, or for it by the admin
        if net.provider_type:  # provider networks are made by the admin (as in the seed)
            body.update({"provider:network_type": net.provider_type,
                         "provider:physical_network": net.physical_network})
            if net.segment is not None:
                body["provider:segmentation_id"] = net.segment
            if net.shared or net.external:
                owner = None  # the admin's, used by everyone
            else:
                body["project_id"] = project
            made = api.post("/v2.0/networks", {"network": body})["network"]
        else:
            made = api.post("/v2.0/networks", {"network": body}, project=project)["network"]
        out["networks"][net.name] = {"id": made["id"], "mtu": made["mtu"],
                                     "type": made.get("provider:network_type") or "tenant"}
        for sub in net.subnets:
            sbody: dict = {"name": sub.name, "network_id": made["id"], "ip_version": 4,
                           "cidr": sub.cidr, "enable_dhcp": True,
                           "dns_nameservers": list(sub.dns_nameservers)}
            if sub.gateway:
                sbody["gateway_ip"] = sub.gateway
            if sub.allocation_pool:
                sbody["allocation_pools"] = [{"start": sub.allocation_pool[0],
                                              "end": sub.allocation_pool[1]}]
            s = api.post("/v2.0/subnets", {"subnet": sbody}, project=owner)["subnet"]
            out["subnets"][sub.name] = {"id": s["id"], "network": net.name,
                                        "gateway": s["gateway_ip"], "cidr": s["cidr"]}
    _allow(api, demo, project)
    for router in demo.routers:
        body = {"name": router.name}
        if router.external_network:
            body["external_gateway_info"] = {
                "network_id": out["networks"][router.external_network]["id"]}
        r = api.post("/v2.0/routers", {"router": body}, project=project)["router"]
        for sub in router.subnets:
            api.put(f"/v2.0/routers/{r['id']}/add_router_interface",
                    {"subnet_id": out["subnets"][sub]["id"]}, project=project)
        gw = api.get(f"/v2.0/routers/{r['id']}")["router"].get("external_gateway_info") or {}
        out["routers"][router.name] = {
            "id": r["id"], "external_network": router.external_network,
            "subnets": list(router.subnets),
            "gateway_ip": next((f["ip_address"] for f in gw.get("external_fixed_ips", [])),
                               None)}
    for inst in demo.instances:
        out["instances"][inst.name] = _instance(api, out, inst, project, lab)
    return out


def _allow(api: Api, demo: Demo, project: str) -> None:
    """The demo project's default group lets in what the demo's rules name (the seed's
    demo_base playbook opens ICMP and SSH)."""
    groups = api.get("/v2.0/security-groups?name=default", project=project)["security_groups"]
    default = next(g for g in groups if g["project_id"] == project)
    for rule in demo.rules:
        body = {"security_group_id": default["id"], "direction": "ingress",
                "ethertype": "IPv4", "protocol": rule.protocol,
                "remote_ip_prefix": "0.0.0.0/0"}
        if rule.port is not None:
            body.update({"port_range_min": rule.port, "port_range_max": rule.port})
        api.post("/v2.0/security-group-rules", {"security_group_rule": body}, project=project)


def _instance(api: Api, out: dict, inst, project: str, lab: str) -> dict:
    net = out["networks"][inst.network]
    vm = instance_uuid(lab, inst.name)
    port = api.post("/v2.0/ports", {"port": {
        "name": inst.name, "network_id": net["id"], "project_id": project,
        "device_owner": "compute:nova", "device_id": vm,
        "binding:host_id": inst.host}})["port"]
    record = {"name": inst.name, "host": inst.host, "network": inst.network,
              "port_id": port["id"], "mac": port["mac_address"], "vm_uuid": vm,
              "ip": port["fixed_ips"][0]["ip_address"], "mtu": net["mtu"],
              "subnet_id": port["fixed_ips"][0]["subnet_id"], "floating_ip": None}
    record["cidr"] = next(s["cidr"] for s in out["subnets"].values()
                          if s["id"] == record["subnet_id"])
    if inst.floating_ip:
        router = next(r for r in out["routers"].values()
                      if any(out["subnets"][s]["network"] == inst.network for s in r["subnets"]))
        fip = api.post("/v2.0/floatingips", {"floatingip": {
            "floating_network_id": out["networks"][router["external_network"]]["id"],
            "port_id": port["id"]}}, project=project)["floatingip"]
        record["floating_ip"] = fip["floating_ip_address"]
        record["floating_ip_id"] = fip["id"]
    return record
