"""ML2 type drivers as pure rules: ranges, provider-segment validation and MTU.

No database here. ``TypeConfig`` is built once, by the plugin at server start, from
``ml2_conf.ini`` options with Neutron's names (``type_drivers``, ``tenant_network_types``,
``flat_networks``, ``network_vlan_ranges``, ``vni_ranges``, ``tunnel_id_ranges``,
``path_mtu``, ``physical_network_mtus``); settings that do not fit together raise
``ConfigError`` (the server stops with the option named). It answers: is this provider
segment valid, which ids may tenants draw from, what MTU does a network get.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fermion import exceptions as exc
from fermion.config import ConfigError

LOCAL, FLAT, VLAN, VXLAN, GRE, GENEVE = "local", "flat", "vlan", "vxlan", "gre", "geneve"
ALL_TYPES = (LOCAL, FLAT, VLAN, VXLAN, GRE, GENEVE)
TUNNEL_TYPES = (VXLAN, GRE, GENEVE)

# Valid segmentation ids per type (Neutron: plugin_utils / neutron-lib constants).
ID_LIMITS = {VLAN: (1, 4094), VXLAN: (1, 2**24 - 1), GENEVE: (1, 2**24 - 1), GRE: (1, 2**32 - 1)}

# Encapsulation overhead besides the outer IP header (neutron-lib constants).
ENCAP_OVERHEAD = {VXLAN: 30, GRE: 22}
IP_HEADER = {4: 20, 6: 40}

Range = tuple[int, int]


def parse_range(text: str, kind: str, limits: Range) -> Range:
    """'100:200' → (100, 200), checked against the type's valid ids."""
    try:
        low_text, high_text = text.split(":")
        low, high = int(low_text), int(high_text)
    except ValueError as error:
        raise ConfigError(f"{kind} range {text!r} is not of the form min:max") from error
    if not (limits[0] <= low <= high <= limits[1]):
        raise ConfigError(f"{kind} range {text!r} is outside {limits[0]}..{limits[1]}")
    return low, high


@dataclass
class TypeConfig:
    type_drivers: list[str]
    tenant_network_types: list[str]
    flat_networks: list[str]
    vlan_ranges: dict[str, list[Range]]
    tunnel_ranges: dict[str, list[Range]]
    global_physnet_mtu: int = 1500
    path_mtu: int = 0
    physnet_mtus: dict[str, int] = field(default_factory=dict)
    overlay_ip_version: int = 4
    geneve_header_size: int = 30

    @classmethod
    def from_config(cls, conf) -> TypeConfig:
        drivers = conf.get("ml2", "type_drivers")
        for name in drivers:
            if name not in ALL_TYPES:
                raise ConfigError(f"[ml2] type_drivers: unknown type driver {name!r}")
        tenant = conf.get("ml2", "tenant_network_types")
        for name in tenant:
            if name not in drivers:
                raise ConfigError(
                    f"[ml2] tenant_network_types: {name!r} is not in type_drivers"
                )
        vlan_ranges: dict[str, list[Range]] = {}
        for entry in conf.get("ml2_type_vlan", "network_vlan_ranges"):
            physnet, _, rest = entry.partition(":")
            if not physnet:
                raise ConfigError(f"[ml2_type_vlan] network_vlan_ranges: bad entry {entry!r}")
            ranges = vlan_ranges.setdefault(physnet, [])
            if rest:
                ranges.append(parse_range(rest, "VLAN", ID_LIMITS[VLAN]))
        tunnel_ranges = {
            VXLAN: [parse_range(r, "VNI", ID_LIMITS[VXLAN])
                    for r in conf.get("ml2_type_vxlan", "vni_ranges")],
            GRE: [parse_range(r, "tunnel id", ID_LIMITS[GRE])
                  for r in conf.get("ml2_type_gre", "tunnel_id_ranges")],
            GENEVE: [parse_range(r, "VNI", ID_LIMITS[GENEVE])
                     for r in conf.get("ml2_type_geneve", "vni_ranges")],
        }
        physnet_mtus = {}
        for entry in conf.get("ml2", "physical_network_mtus"):
            physnet, _, mtu = entry.partition(":")
            try:
                physnet_mtus[physnet] = int(mtu)
            except ValueError as error:
                raise ConfigError(
                    f"[ml2] physical_network_mtus: bad entry {entry!r}, expected physnet:mtu"
                ) from error
        version = conf.get("ml2", "overlay_ip_version")
        if version not in IP_HEADER:
            raise ConfigError("[ml2] overlay_ip_version must be 4 or 6")
        return cls(
            type_drivers=list(drivers),
            tenant_network_types=list(tenant),
            flat_networks=list(conf.get("ml2_type_flat", "flat_networks")),
            vlan_ranges=vlan_ranges,
            tunnel_ranges=tunnel_ranges,
            global_physnet_mtu=conf.get("DEFAULT", "global_physnet_mtu"),
            path_mtu=conf.get("ml2", "path_mtu"),
            physnet_mtus=physnet_mtus,
            overlay_ip_version=version,
            geneve_header_size=conf.get("ml2_type_geneve", "max_header_size"),
        )

    # -- provider segments -------------------------------------------------------------

    def validate_provider_segment(self, segment: dict) -> dict:
        """Check an admin-requested segment; return it normalised (physnet/id None where unused).

        A segmentation id left out is allocated from the tenant pools later
        (``segmentation_id`` None).
        """
        network_type = segment.get("network_type")
        physnet = segment.get("physical_network")
        seg_id = segment.get("segmentation_id")
        if network_type not in self.type_drivers:
            raise exc.InvalidInput(
                error_message=f"network_type value '{network_type}' not supported"
            )
        if network_type == LOCAL:
            if physnet or seg_id is not None:
                raise exc.InvalidInput(
                    error_message="provider:physical_network and provider:segmentation_id "
                    "are not allowed for local provider network"
                )
        elif network_type == FLAT:
            if seg_id is not None:
                raise exc.InvalidInput(
                    error_message="segmentation_id specified for flat provider network"
                )
            if not physnet:
                raise exc.InvalidInput(
                    error_message="physical_network required for flat provider network"
                )
            if "*" not in self.flat_networks and physnet not in self.flat_networks:
                raise exc.InvalidInput(
                    error_message=f"physical_network '{physnet}' unknown for flat provider network"
                )
        elif network_type == VLAN:
            if not physnet:
                if seg_id is not None:  # a VLAN id means nothing without its physnet
                    raise exc.InvalidInput(
                        error_message="segmentation_id requires physical_network for VLAN "
                        "provider network"
                    )
                if not any(self.vlan_ranges.values()):
                    raise exc.InvalidInput(
                        error_message="physical_network required for VLAN provider network"
                    )
            elif physnet not in self.vlan_ranges:
                raise exc.InvalidInput(
                    error_message=f"physical_network '{physnet}' unknown for VLAN provider network"
                )
            elif seg_id is None and not self.vlan_ranges[physnet]:
                raise exc.InvalidInput(
                    error_message=f"Physical network {physnet} requires segmentation_id to be "
                    "specified when creating a provider network"
                )
            if seg_id is not None:
                self._check_id(VLAN, seg_id, "segmentation_id out of range (1 through 4094)")
        else:  # tunnels
            if physnet:
                raise exc.InvalidInput(
                    error_message=f"provider:physical_network specified for {network_type} network"
                )
            if seg_id is not None:
                low, high = ID_LIMITS[network_type]
                self._check_id(
                    network_type, seg_id,
                    f"{network_type} segmentation_id out of range ({low} through {high})",
                )
        return {"network_type": network_type, "physical_network": physnet or None,
                "segmentation_id": seg_id}

    @staticmethod
    def _check_id(network_type: str, seg_id: object, message: str) -> None:
        low, high = ID_LIMITS[network_type]
        if isinstance(seg_id, bool) or not isinstance(seg_id, int) or not low <= seg_id <= high:
            raise exc.InvalidInput(error_message=message)

    # -- tenant pools ------------------------------------------------------------------

    def pools(self, network_type: str, physnet: str | None = None) -> list[tuple[str, Range]]:
        """(physnet, range) pairs that tenant allocation may draw from, in order."""
        if network_type == VLAN:
            return [(p, r) for p, ranges in self.vlan_ranges.items()
                    if physnet in (None, p) for r in ranges]
        if network_type in TUNNEL_TYPES:
            return [("", r) for r in self.tunnel_ranges.get(network_type, [])]
        return []

    # -- MTU ---------------------------------------------------------------------------

    def segment_mtu(self, network_type: str, physnet: str | None) -> int | None:
        """The largest MTU the type allows (None: no limit, as for local networks)."""
        if network_type in (FLAT, VLAN):
            candidates = [self.global_physnet_mtu, self.physnet_mtus.get(physnet or "", 0)]
            valid = [m for m in candidates if m > 0]
            return min(valid) if valid else None
        if network_type in TUNNEL_TYPES:
            valid = [m for m in (self.global_physnet_mtu, self.path_mtu) if m > 0]
            if not valid:
                return None
            overhead = (self.geneve_header_size if network_type == GENEVE
                        else ENCAP_OVERHEAD[network_type])
            return min(valid) - IP_HEADER[self.overlay_ip_version] - overhead
        return None

    def network_mtu(self, segments: list[dict]) -> int:
        """Smallest MTU over the segments; the global MTU when none limits it (Neutron ML2)."""
        mtus = [m for s in segments
                if (m := self.segment_mtu(s["network_type"], s.get("physical_network")))]
        return min(mtus) if mtus else self.global_physnet_mtu
