"""Built-in flavors and images: what ``--flavor`` and ``--image`` can name.

Flavors are DevStack's (the sizes the seed's commands use, ``m1.nano``, ``m1.tiny``…); the
sizes are only labels here (a guest is a namespace: nothing reserves RAM or disk).
Images are not disks either: each names the init a guest runs (``fermion_guest_init``),
which the compute agent reads from the image's properties:

- ``cirros``: a minimal init (busybox udhcpc, metadata fetch, SSH keys, hostname);
- ``debian-cloud-init``: the real cloud-init with its OpenStack datasource.

Pure data and the JSON views of the Compute API (flavors, Nova's 2.1 shapes) and the
Image API (images, Glance v2 shapes). Nothing here touches the store or the network.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

CREATED = "2026-11-27T00:00:00Z"  # when the built-in catalog was made
_NAMESPACE = uuid.UUID("5d1e2c36-6f0b-4f37-9c3e-0fe0e1a5c001")


@dataclass(frozen=True)
class Flavor:
    id: str
    name: str
    ram: int       # MiB
    disk: int      # GiB
    vcpus: int


FLAVORS: tuple[Flavor, ...] = (
    Flavor("42", "m1.nano", 128, 1, 1),
    Flavor("84", "m1.micro", 192, 1, 1),
    Flavor("1", "m1.tiny", 512, 1, 1),
    Flavor("2", "m1.small", 2048, 20, 1),
    Flavor("3", "m1.medium", 4096, 40, 2),
    Flavor("4", "m1.large", 8192, 80, 4),
    Flavor("5", "m1.xlarge", 16384, 160, 8),
)
_FLAVORS_BY_ID = {f.id: f for f in FLAVORS}


@dataclass(frozen=True)
class Image:
    name: str
    ec2_id: int                  # the number behind the EC2 ``ami-%08x`` id
    init: str                    # the guest init the compute agent runs
    properties: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"image:{self.name}"))


IMAGES: tuple[Image, ...] = (
    Image("cirros", 1, "cirros", {"os_distro": "cirros", "os_type": "linux"}),
    Image("debian-cloud-init", 2, "cloud-init",
          {"os_distro": "debian", "os_version": "12", "os_type": "linux"}),
)
_IMAGES_BY_ID = {i.id: i for i in IMAGES}


def flavor(flavor_id: str) -> Flavor | None:
    return _FLAVORS_BY_ID.get(flavor_id)


def image(image_id: str) -> Image | None:
    return _IMAGES_BY_ID.get(image_id)


def ref_id(ref: str) -> str:
    """A flavorRef/imageRef may be an id or a URL ending in one (Nova's rule)."""
    return ref.rstrip("/").rsplit("/", 1)[-1]


# -- Compute API views (microversion 2.1) ----------------------------------------------------

def flavor_links(base: str, flavor_id: str) -> list[dict]:
    """``base`` is the API root (``http://host:8774``)."""
    return [{"rel": "self", "href": f"{base}/v2.1/flavors/{flavor_id}"},
            {"rel": "bookmark", "href": f"{base}/flavors/{flavor_id}"}]


def flavor_summary(f: Flavor, base: str) -> dict:
    return {"id": f.id, "name": f.name, "links": flavor_links(base, f.id)}


def flavor_detail(f: Flavor, base: str) -> dict:
    return {"id": f.id, "name": f.name, "ram": f.ram, "disk": f.disk, "vcpus": f.vcpus,
            "OS-FLV-EXT-DATA:ephemeral": 0, "swap": "", "rxtx_factor": 1.0,
            "os-flavor-access:is_public": True, "OS-FLV-DISABLED:disabled": False,
            "links": flavor_links(base, f.id)}


def flavor_list(min_ram: int = 0, min_disk: int = 0) -> list[Flavor]:
    """Flavors in Nova's default order (by ``flavorid``), filtered by size."""
    return sorted((f for f in FLAVORS if f.ram >= min_ram and f.disk >= min_disk),
                  key=lambda f: f.id)


# -- Image API views (v2) ----------------------------------------------------------------------

def image_view(img: Image) -> dict:
    return {"id": img.id, "name": img.name, "status": "active", "visibility": "public",
            "protected": True, "os_hidden": False, "container_format": "bare",
            "disk_format": "raw", "size": 0, "virtual_size": None, "checksum": None,
            "os_hash_algo": None, "os_hash_value": None, "min_disk": 0, "min_ram": 0,
            "owner": None, "tags": [], "created_at": CREATED, "updated_at": CREATED,
            "self": f"/v2/images/{img.id}", "file": f"/v2/images/{img.id}/file",
            "schema": "/v2/schemas/image", "fermion_guest_init": img.init,
            **img.properties}


IMAGE_FILTERS = {"name", "status", "visibility", "os_hidden", "member_status", "protected",
                 "container_format", "disk_format", "owner", "id"}


def image_matches(view: dict, filters: dict[str, str]) -> bool:
    """Glance's filters: equality or ``in:a,b`` (any of); an unknown key filters on an
    image property."""
    for key, wanted in filters.items():
        value = view.get(key)
        if isinstance(value, bool):
            value = "true" if value else "false"
        if key == "visibility" and wanted == "all":
            continue
        if key == "member_status" and wanted in ("accepted", "all"):
            continue
        choices = wanted[3:].split(",") if wanted.startswith("in:") else [wanted]
        if value is None or str(value) not in choices:
            return False
    return True
