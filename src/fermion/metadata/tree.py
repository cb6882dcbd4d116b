"""The metadata an instance reads, as the two trees Nova serves: EC2 and OpenStack.

``lookup(data, path)`` maps a request path to ``(body, content type)``, or raises
:class:`NotFound` — pure, so the whole tree is unit-tested and cloud-init's own reader is
pointed at it. Paths are normalised as Nova does (``//`` and trailing slashes ignored, a
path not under ``/openstack`` is EC2's). EC2 versions are 1.0 … 2009-04-04 (``latest`` is
2009-04-04), OpenStack versions 2012-08-10 … 2020-10-14 (``latest`` is the newest); each
version shows what it had in Nova (e.g. ``network_data.json`` from 2015-10-15, ``devices``
in ``meta_data.json`` from 2016-06-30, ``vendor_data2.json`` from 2016-10-06).

A listing is one name per line; a directory's name ends in ``/``; EC2's ``public-keys/``
lists ``0=<key name>``. ``password`` is answered by the service (GET, one POST), not here:
``lookup`` returns :data:`PASSWORD` for it.
"""

from __future__ import annotations

import base64
import json
import posixpath
from dataclasses import dataclass, field

EC2_VERSIONS = ["1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
                "2008-02-01", "2008-09-01", "2009-04-04"]
FOLSOM, GRIZZLY, HAVANA, LIBERTY = "2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15"
NEWTON_ONE, NEWTON_TWO, OCATA, ROCKY = "2016-06-30", "2016-10-06", "2017-02-22", "2018-08-27"
VICTORIA = "2020-10-14"
OS_VERSIONS = [FOLSOM, GRIZZLY, HAVANA, LIBERTY, NEWTON_ONE, NEWTON_TWO, OCATA, ROCKY, VICTORIA]
TEXT, JSON_TYPE = "text/plain; charset=UTF-8", "application/json"
PASSWORD = object()  # lookup's answer for .../password: the service handles it


class NotFound(Exception):
    pass


@dataclass
class InstanceData:
    """Everything the trees are made of, read once per instance (and cached)."""

    uuid: str
    name: str
    hostname: str                 # with the DHCP domain (x.novalocal)
    project_id: str
    ec2_id: int
    image_ec2_id: int
    launch_index: int
    reservation_id: str
    availability_zone: str
    flavor_name: str
    security_groups: list[str]
    meta: dict
    key_name: str | None = None
    key_data: str | None = None
    key_type: str = "ssh"
    user_data: bytes | None = None
    fixed_ips: list[str] = field(default_factory=list)     # IPv4, first port first
    floating_ips: list[str] = field(default_factory=list)
    network_data: dict = field(default_factory=dict)
    random_seed: str = ""         # base64 of 512 random bytes


def lookup(data: InstanceData, path: str):
    """(body bytes, content type) for ``path``; :data:`PASSWORD`; or NotFound."""
    tokens = [t for t in posixpath.normpath("/" + path).split("/") if t]
    if tokens[:1] == ["openstack"]:
        return _openstack(data, tokens[1:])
    if tokens[:1] == ["ec2"]:
        tokens = tokens[1:]
    if not tokens:
        return _text("\n".join(EC2_VERSIONS + ["latest"]))
    return _ec2(data, tokens)


def _text(text: str | bytes):
    return (text.encode() if isinstance(text, str) else text), TEXT


def _json(value) -> tuple[bytes, str]:
    return json.dumps(value).encode(), JSON_TYPE


# -- EC2 --------------------------------------------------------------------------------------

def _since(required: str, version: str, versions: list[str]) -> bool:
    return versions.index(version) >= versions.index(required)


def ec2_tree(data: InstanceData, version: str) -> dict:
    if version == "latest":
        version = EC2_VERSIONS[-1]
    if version not in EC2_VERSIONS:
        raise NotFound(version)
    fixed = data.fixed_ips[0] if data.fixed_ips else ""
    md: dict = {
        "ami-id": f"ami-{data.image_ec2_id:08x}", "ami-launch-index": data.launch_index,
        "ami-manifest-path": "FIXME", "instance-id": f"i-{data.ec2_id:08x}",
        "hostname": data.hostname, "local-ipv4": fixed,
        "reservation-id": data.reservation_id, "security-groups": data.security_groups,
    }
    if data.key_name:
        md["public-keys"] = {"0": {"_name": f"0={data.key_name}",
                                   "openssh-key": data.key_data or ""}}
    if _since("2007-01-19", version, EC2_VERSIONS):
        md.update({"local-hostname": data.hostname, "public-hostname": data.hostname,
                   "public-ipv4": data.floating_ips[0] if data.floating_ips else ""})
    if _since("2007-08-29", version, EC2_VERSIONS):
        md["instance-type"] = data.flavor_name
    if _since("2007-12-15", version, EC2_VERSIONS):
        md["block-device-mapping"] = {"ami": "vda", "root": "/dev/vda"}
    if _since("2008-02-01", version, EC2_VERSIONS):
        md["placement"] = {"availability-zone": data.availability_zone}
    if _since("2008-09-01", version, EC2_VERSIONS):
        md["instance-action"] = "none"
    tree: dict = {"meta-data": md}
    if data.user_data is not None:
        tree["user-data"] = data.user_data
    return tree


def _ec2(data: InstanceData, tokens: list[str]):
    node = ec2_tree(data, tokens[0])
    for token in tokens[1:]:
        if not isinstance(node, dict) or token not in node or token == "_name":
            raise NotFound("/".join(tokens))
        node = node[token]
    return _text(render(node))


def render(node) -> str | bytes:
    """EC2's rendering: a dict lists its keys (``key/`` for directories, a directory
    with a ``_name`` shows that instead), a list one item per line."""
    if isinstance(node, dict):
        lines = []
        for key in sorted(node):
            if key == "_name":
                continue
            value = node[key]
            if isinstance(value, dict):
                lines.append(str(value["_name"]) if "_name" in value else key + "/")
            else:
                lines.append(key)
        return "\n".join(lines)
    if isinstance(node, list):
        return "\n".join(str(item) for item in node)
    if isinstance(node, bytes):
        return node
    return str(node)


# -- OpenStack -------------------------------------------------------------------------------

def _openstack(data: InstanceData, tokens: list[str]):
    if not tokens:
        return _text("\n".join(OS_VERSIONS + ["latest"]))
    version = OS_VERSIONS[-1] if tokens[0] == "latest" else tokens[0]
    if version not in OS_VERSIONS or len(tokens) > 2:
        raise NotFound("/".join(tokens))
    files = os_files(data, version)
    if len(tokens) == 1:
        return _text("\n".join(files))
    name = tokens[1]
    if name not in files:
        raise NotFound(name)
    if name == "password":
        return PASSWORD
    if name == "user_data":
        return data.user_data, TEXT
    return _json(os_json(data, version, name))


def os_files(data: InstanceData, version: str) -> list[str]:
    """A version directory's listing, in Nova's order."""
    files = ["meta_data.json"]
    if data.user_data is not None:
        files.append("user_data")
    for since, name in ((GRIZZLY, "password"), (HAVANA, "vendor_data.json"),
                        (LIBERTY, "network_data.json"), (NEWTON_TWO, "vendor_data2.json")):
        if _since(since, version, OS_VERSIONS):
            files.append(name)
    return files


def os_json(data: InstanceData, version: str, name: str):
    if name == "meta_data.json":
        return meta_data(data, version)
    if name == "network_data.json":
        return data.network_data
    return {}  # vendor_data.json, vendor_data2.json: no vendor data providers


def meta_data(data: InstanceData, version: str) -> dict:
    md: dict = {"uuid": data.uuid}
    if data.meta:
        md["meta"] = data.meta
    if data.key_name:
        md["public_keys"] = {data.key_name: data.key_data}
        md["keys"] = [{"name": data.key_name, "type": data.key_type, "data": data.key_data}]
    md.update({"hostname": data.hostname, "name": data.name,
               "launch_index": data.launch_index,
               "availability_zone": data.availability_zone})
    if _since(GRIZZLY, version, OS_VERSIONS):
        md["random_seed"] = data.random_seed
    if _since(LIBERTY, version, OS_VERSIONS):
        md["project_id"] = data.project_id
    if _since(NEWTON_ONE, version, OS_VERSIONS):
        md["devices"] = []
    if _since(VICTORIA, version, OS_VERSIONS):
        md["dedicated_cpus"] = []
    return md


def decode_user_data(value: str | None) -> bytes | None:
    return None if value is None else base64.b64decode(value)
