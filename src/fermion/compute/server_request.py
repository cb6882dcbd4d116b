"""What a server create asks for, checked against the catalog and the Networking API.

Everything a create needs is resolved here *before* anything is written, so an invalid
request (unknown flavor, image, key, network, port or security group; a port in use) gets
Nova's 400/404/409 and creates nothing. Lookups of networks, ports and security groups are
made as the caller (it must see what it names).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from fermion.compute import catalog, keypairs
from fermion.compute.http import Caller, ComputeError, bad, conflict
from fermion.compute.neutron import Networking
from fermion.compute.validation import SERVER_CREATE, as_bool, validate


@dataclass
class NicRequest:
    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None
    port: dict | None = None      # the given port, as the caller sees it


@dataclass
class ServerRequest:
    name: str
    hostname: str
    image: catalog.Image
    flavor: catalog.Flavor
    meta: dict
    user_data: str | None
    key: object | None            # the key pair row
    nics: list[NicRequest]
    security_groups: list[str]    # names as asked (default: ["default"])
    security_group_ids: list[str] = field(default_factory=list)
    availability_zone: str | None = None
    admin_pass: str | None = None
    config_drive: str = ""


def sanitize_hostname(name: str, server_id: str) -> str:
    """Nova's hostname from a display name: lower case, [a-z0-9-], at most 63 characters."""
    host = re.sub(r"[ _.]", "-", name.lower())
    host = re.sub(r"[^a-z0-9-]", "", host).strip("-")[:63].strip("-")
    return host or f"server-{server_id}"


def parse(body: object, server_id: str, metadata_items: int) -> tuple[dict, int]:
    """Schema checks; returns the ``server`` dict and how many servers were asked for."""
    validate(SERVER_CREATE, body)
    server = body["server"]
    low = int(server.get("min_count", 1))
    high = int(server.get("max_count", low))
    if low > high:
        raise bad("min_count must be <= max_count")
    if high != 1:
        raise bad("Fermion creates one server per request: min_count and max_count must "
                  "be 1.")
    if metadata_items >= 0 and len(server.get("metadata", {})) > metadata_items:
        raise ComputeError(403, f"Quota exceeded for metadata_items: Requested "
                                f"{len(server['metadata'])}, but already used 0 of "
                                f"{metadata_items} metadata_items")
    return server, high


def resolve(server: dict, server_id: str, caller: Caller, networking: Networking,
            conn) -> ServerRequest:
    """Catalog, key pair, networks, ports and security groups of a parsed request."""
    bdm_image = _image_from_bdm(server)  # refuses volumes, snapshots, blank disks
    image_ref = server.get("imageRef") or bdm_image
    if not image_ref:
        raise bad("Missing imageRef attribute")
    image = catalog.image(catalog.ref_id(image_ref))
    if image is None:
        raise bad("Can not find requested image")
    flavor_id = catalog.ref_id(str(server["flavorRef"]))
    flavor = catalog.flavor(flavor_id)
    if flavor is None:
        raise bad(f"Flavor {flavor_id} could not be found.")
    key = None
    if server.get("key_name"):
        try:
            key = keypairs.get(conn, caller.user_id, server["key_name"])
        except ComputeError:
            raise bad("Invalid key_name provided.") from None
    names = [g["name"] for g in server.get("security_groups", [])] or ["default"]
    req = ServerRequest(
        name=server["name"], hostname=sanitize_hostname(server["name"], server_id),
        image=image, flavor=flavor, meta=server.get("metadata", {}),
        user_data=server.get("user_data"), key=key, nics=_nics(server.get("networks")),
        security_groups=list(dict.fromkeys(names)),
        availability_zone=server.get("availability_zone"),
        admin_pass=server.get("adminPass"),
        config_drive="True" if as_bool(server.get("config_drive", False)) else "")
    _check_nics(req, caller, networking)
    req.security_group_ids = _security_groups(req.security_groups, caller, networking)
    return req


def _image_from_bdm(server: dict) -> str | None:
    """The image of a block device mapping the CLI sends for an image boot (the image as
    the local root disk); anything else would need volumes, which Fermion has not."""
    image = None
    for bdm in server.get("block_device_mapping_v2", []):
        if bdm.get("source_type") != "image" or bdm.get("destination_type", "local") != "local":
            raise bad("Block device mappings of volumes, snapshots or blank disks are not "
                      "supported: Fermion boots servers from images only.")
        image = image or bdm.get("uuid")
    return image


def _nics(networks: list[dict] | None) -> list[NicRequest]:
    if networks is None:
        return []
    nics, ports = [], set()
    for item in networks:
        port, fixed_ip = item.get("port"), item.get("fixed_ip")
        if port:
            if port in ports:
                raise bad(f"Port ID '{port}' was specified twice: you cannot attach a port "
                          "multiple times.")
            if fixed_ip is not None:
                raise bad(f"Specified Fixed IP '{fixed_ip}' cannot be used with port "
                          f"'{port}': the two cannot be specified together.")
            ports.add(port)
            nics.append(NicRequest(port_id=port))
            continue
        if "uuid" not in item:
            raise bad("Bad network format: missing 'uuid'")
        try:
            uuid.UUID(item["uuid"])
        except ValueError:
            raise bad("Bad networks format: network uuid is not in proper format "
                      f"({item['uuid']})") from None
        nics.append(NicRequest(network_id=item["uuid"], fixed_ip=fixed_ip))
    return nics


def _check_nics(req: ServerRequest, caller: Caller, networking: Networking) -> None:
    headers = caller.headers
    if not req.nics:
        req.nics = _default_network(caller, networking)
    for nic in req.nics:
        if nic.port_id:
            port = networking.port(nic.port_id, headers)
            if port is None:
                raise bad(f"Port id {nic.port_id} could not be found.")
            if port.get("device_id"):
                raise conflict(f"Port {nic.port_id} is still in use.")
            nic.port, nic.network_id = port, port["network_id"]
            continue
        network = networking.network(nic.network_id, headers)
        if network is None:
            raise bad(f"Network {nic.network_id} could not be found.")
        if not network.get("subnets"):
            raise bad(f"Network {nic.network_id} requires a subnet in order to boot "
                      "instances on.")
        if network.get("router:external") and not network.get("shared") \
                and not caller.is_admin:
            raise ComputeError(403, "It is not allowed to create an interface on external "
                                    f"network {nic.network_id}")


def _default_network(caller: Caller, networking: Networking) -> list[NicRequest]:
    """No networks asked: the one network the project can use, as Nova picks it."""
    own = networking.networks(caller.headers, project_id=caller.project_id, shared="False")
    shared = networking.networks(caller.headers, shared="True")
    usable = [n for n in {n["id"]: n for n in own + shared}.values()
              if n.get("subnets") and not n.get("router:external")]
    if len(usable) > 1:
        raise conflict("More than one possible network found. Specify network ID(s) to "
                       "select which one(s) to connect to.")
    return [NicRequest(network_id=n["id"]) for n in usable]


def _security_groups(names: list[str], caller: Caller, networking: Networking) -> list[str]:
    groups = networking.security_groups(caller.headers, project_id=caller.project_id)
    if caller.is_admin:  # an admin sees every project's groups: only its own count here
        groups = [g for g in groups if g.get("project_id") == caller.project_id]
    ids = []
    for name in names:
        by_id = [g for g in groups if g["id"] == name]
        matches = by_id or [g for g in groups if g["name"] == name]
        if not matches:
            raise bad(f"Security group {name} not found.")
        if len(matches) > 1:
            raise conflict(f"Multiple security groups found matching '{name}'. Use an ID to "
                           "be more specific.")
        ids.append(matches[0]["id"])
    return ids
