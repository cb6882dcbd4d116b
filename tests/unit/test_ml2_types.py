"""ML2 type rules (plugin/ml2/types.py): ranges, provider segments, tenant pools, MTU."""

from __future__ import annotations

import pytest

from fermion import exceptions as exc
from fermion.config import Config, ConfigError
from fermion.plugin.ml2.types import TypeConfig, parse_range

ALL = ["local", "flat", "vlan", "vxlan", "gre", "geneve"]


def types(**options) -> TypeConfig:
    """TypeConfig from options given as section__name=value (parsed values, not strings)."""
    values = {}
    defaults = {
        "ml2__type_drivers": ALL,
        "ml2__tenant_network_types": ["vxlan"],
        "ml2_type_flat__flat_networks": ["physnet"],
        "ml2_type_vlan__network_vlan_ranges": ["physnet:100:200"],
        "ml2_type_vxlan__vni_ranges": ["1:1000"],
        "ml2_type_gre__tunnel_id_ranges": ["1:1000"],
        "ml2_type_geneve__vni_ranges": ["1:1000"],
    }
    for key, value in {**defaults, **options}.items():
        section, name = key.split("__")
        values[(section, name)] = value
    return TypeConfig.from_config(Config(values, {}))


def seg(network_type, physnet=None, seg_id=None) -> dict:
    out = {"network_type": network_type}
    if physnet is not None:
        out["physical_network"] = physnet
    if seg_id is not None:
        out["segmentation_id"] = seg_id
    return out


# -- ranges ----------------------------------------------------------------------------------


def test_parse_range():
    assert parse_range("100:200", "VLAN", (1, 4094)) == (100, 200)
    assert parse_range("7:7", "VLAN", (1, 4094)) == (7, 7)
    assert parse_range("1:4094", "VLAN", (1, 4094)) == (1, 4094)


@pytest.mark.parametrize("text", ["", "100", "100-200", "1:2:3", "a:b", "100:", ":200"])
def test_parse_range_malformed(text):
    with pytest.raises(ConfigError, match="min:max"):
        parse_range(text, "VLAN", (1, 4094))


@pytest.mark.parametrize("text", ["0:10", "4000:4095", "200:100", "-5:5"])
def test_parse_range_outside_limits(text):
    with pytest.raises(ConfigError, match="outside 1..4094"):
        parse_range(text, "VLAN", (1, 4094))


@pytest.mark.parametrize("options,fragment", [
    ({"ml2_type_vlan__network_vlan_ranges": ["physnet:100"]}, "min:max"),
    ({"ml2_type_vlan__network_vlan_ranges": ["physnet:1:5000"]}, "outside"),
    ({"ml2_type_vlan__network_vlan_ranges": [":100:200"]}, "network_vlan_ranges"),
    ({"ml2_type_vxlan__vni_ranges": ["1:16777216"]}, "VNI"),
    ({"ml2_type_vxlan__vni_ranges": ["0:10"]}, "VNI"),
    ({"ml2_type_gre__tunnel_id_ranges": ["10:1"]}, "tunnel id"),
    ({"ml2_type_geneve__vni_ranges": ["x"]}, "VNI"),
    ({"ml2__type_drivers": ["vxlan", "bogus"]}, "unknown type driver 'bogus'"),
    ({"ml2__type_drivers": ["local", "flat"], "ml2__tenant_network_types": ["vxlan"]},
     "'vxlan' is not in type_drivers"),
    ({"ml2__physical_network_mtus": ["physnet"]}, "physical_network_mtus"),
    ({"ml2__physical_network_mtus": ["physnet:big"]}, "physical_network_mtus"),
    ({"ml2__overlay_ip_version": 5}, "overlay_ip_version"),
])
def test_bad_type_configuration(options, fragment):
    with pytest.raises(ConfigError, match=fragment):
        types(**options)


def test_vlan_ranges_by_physnet():
    config = types(ml2_type_vlan__network_vlan_ranges=[
        "physnet:100:200", "physnet:300:310", "other", "third:5:6"])
    assert config.vlan_ranges == {"physnet": [(100, 200), (300, 310)], "other": [],
                                  "third": [(5, 6)]}


# -- provider segments -----------------------------------------------------------------------


@pytest.mark.parametrize("segment,normalised", [
    (seg("local"), ("local", None, None)),
    (seg("flat", "physnet"), ("flat", "physnet", None)),
    (seg("vlan", "physnet", 150), ("vlan", "physnet", 150)),
    (seg("vlan", "physnet", 4094), ("vlan", "physnet", 4094)),  # outside the tenant range is fine
    (seg("vlan", "physnet"), ("vlan", "physnet", None)),  # id allocated later
    (seg("vlan"), ("vlan", None, None)),  # physnet and id allocated later
    (seg("vxlan", seg_id=5000), ("vxlan", None, 5000)),
    (seg("vxlan", seg_id=2**24 - 1), ("vxlan", None, 2**24 - 1)),
    (seg("vxlan"), ("vxlan", None, None)),
    (seg("gre", seg_id=2**32 - 1), ("gre", None, 2**32 - 1)),
    (seg("geneve", seg_id=1), ("geneve", None, 1)),
    ({"network_type": "vxlan", "physical_network": "", "segmentation_id": 9},
     ("vxlan", None, 9)),
])
def test_valid_provider_segments(segment, normalised):
    out = types().validate_provider_segment(segment)
    assert (out["network_type"], out["physical_network"], out["segmentation_id"]) == normalised


@pytest.mark.parametrize("segment,fragment", [
    (seg("bogus"), "network_type value 'bogus' not supported"),
    ({}, "not supported"),
    (seg("local", "physnet"), "not allowed for local"),
    (seg("local", seg_id=5), "not allowed for local"),
    (seg("flat"), "physical_network required for flat"),
    (seg("flat", "nowhere"), "physical_network 'nowhere' unknown for flat"),
    (seg("flat", "physnet", 10), "segmentation_id specified for flat"),
    (seg("vlan", "nowhere", 150), "physical_network 'nowhere' unknown for VLAN"),
    (seg("vlan", "physnet", 0), "segmentation_id out of range (1 through 4094)"),
    (seg("vlan", "physnet", 4095), "segmentation_id out of range (1 through 4094)"),
    (seg("vlan", "physnet", "150"), "out of range"),
    (seg("vlan", "physnet", True), "out of range"),
    (seg("vlan", seg_id=150), "segmentation_id requires physical_network"),
    (seg("vxlan", "physnet", 5), "provider:physical_network specified for vxlan"),
    (seg("gre", "physnet"), "provider:physical_network specified for gre"),
    (seg("vxlan", seg_id=0), "vxlan segmentation_id out of range (1 through 16777215)"),
    (seg("vxlan", seg_id=2**24), "out of range (1 through 16777215)"),
    (seg("geneve", seg_id=2**24), "geneve segmentation_id out of range"),
    (seg("gre", seg_id=2**32), "gre segmentation_id out of range (1 through 4294967295)"),
    (seg("gre", seg_id=-1), "out of range"),
])
def test_invalid_provider_segments(segment, fragment):
    with pytest.raises(exc.InvalidInput) as info:
        types().validate_provider_segment(segment)
    assert info.value.status == 400
    assert fragment in info.value.message


def test_type_not_in_type_drivers_is_refused():
    config = types(ml2__type_drivers=["local", "vxlan"], ml2__tenant_network_types=["vxlan"])
    for network_type in ("flat", "vlan", "gre", "geneve"):
        with pytest.raises(exc.InvalidInput, match="not supported"):
            config.validate_provider_segment(seg(network_type, "physnet"))
    config.validate_provider_segment(seg("vxlan", seg_id=3))


def test_flat_networks_star_and_empty():
    anything = types(ml2_type_flat__flat_networks=["*"])
    assert anything.validate_provider_segment(seg("flat", "whatever"))["physical_network"] == (
        "whatever")
    disabled = types(ml2_type_flat__flat_networks=[])
    with pytest.raises(exc.InvalidInput):
        disabled.validate_provider_segment(seg("flat", "physnet"))


def test_vlan_without_ranges():
    # A physnet listed without a range takes provider networks with an explicit id only.
    config = types(ml2_type_vlan__network_vlan_ranges=["physnet"])
    assert config.validate_provider_segment(seg("vlan", "physnet", 42))["segmentation_id"] == 42
    with pytest.raises(exc.InvalidInput, match="requires segmentation_id"):
        config.validate_provider_segment(seg("vlan", "physnet"))
    with pytest.raises(exc.InvalidInput, match="physical_network required"):
        config.validate_provider_segment(seg("vlan"))
    none = types(ml2_type_vlan__network_vlan_ranges=[])
    with pytest.raises(exc.InvalidInput, match="physical_network required"):
        none.validate_provider_segment(seg("vlan"))
    with pytest.raises(exc.InvalidInput, match="unknown for VLAN"):
        none.validate_provider_segment(seg("vlan", "physnet", 5))


# -- tenant pools ----------------------------------------------------------------------------


def test_tenant_pools():
    config = types(ml2_type_vlan__network_vlan_ranges=["a:10:20", "b:30:40", "a:50:60", "c"],
                   ml2_type_vxlan__vni_ranges=["100:200", "5:6"],
                   ml2_type_gre__tunnel_id_ranges=[], ml2_type_geneve__vni_ranges=["7:8"])
    assert config.pools("vlan") == [("a", (10, 20)), ("a", (50, 60)), ("b", (30, 40))]
    assert config.pools("vlan", "b") == [("b", (30, 40))]
    assert config.pools("vlan", "c") == []
    assert config.pools("vlan", "nowhere") == []
    assert config.pools("vxlan") == [("", (100, 200)), ("", (5, 6))]
    assert config.pools("gre") == []
    assert config.pools("geneve") == [("", (7, 8))]
    assert config.pools("flat") == []
    assert config.pools("local") == []


def test_tenant_network_types_kept_in_order():
    config = types(ml2__tenant_network_types=["vlan", "vxlan", "local"])
    assert config.tenant_network_types == ["vlan", "vxlan", "local"]


# -- MTU -------------------------------------------------------------------------------------


@pytest.mark.parametrize("network_type,physnet,mtu", [
    ("vxlan", None, 1450),  # 1500 - 20 (IPv4) - 30 (VXLAN)
    ("gre", None, 1458),  # 1500 - 20 - 22
    ("geneve", None, 1450),  # 1500 - 20 - 30 (max_header_size)
    ("flat", "physnet", 1500),
    ("vlan", "physnet", 1500),
    ("local", None, None),
])
def test_segment_mtu_defaults(network_type, physnet, mtu):
    assert types().segment_mtu(network_type, physnet) == mtu


def test_network_mtu_defaults():
    config = types()
    assert config.network_mtu([{"network_type": "vxlan"}]) == 1450
    assert config.network_mtu([{"network_type": "gre"}]) == 1458
    assert config.network_mtu([{"network_type": "geneve"}]) == 1450
    assert config.network_mtu([{"network_type": "flat", "physical_network": "physnet"}]) == 1500
    assert config.network_mtu([{"network_type": "local"}]) == 1500  # the global MTU
    assert config.network_mtu([]) == 1500
    # Several segments: the smallest wins.
    assert config.network_mtu([{"network_type": "vlan", "physical_network": "physnet"},
                               {"network_type": "vxlan"}, {"network_type": "local"}]) == 1450


def test_geneve_header_size():
    assert types(ml2_type_geneve__max_header_size=50).segment_mtu("geneve", None) == 1430


def test_physical_network_mtus():
    config = types(ml2__physical_network_mtus=["physnet:1400", "jumbo:9000"],
                   ml2_type_flat__flat_networks=["*"])
    assert config.segment_mtu("flat", "physnet") == 1400
    assert config.segment_mtu("vlan", "physnet") == 1400
    # A physnet MTU above the global one is capped by it...
    assert config.segment_mtu("flat", "jumbo") == 1500
    # ...unless the global one is raised too.
    jumbo = types(DEFAULT__global_physnet_mtu=9000,
                  ml2__physical_network_mtus=["physnet:1400", "jumbo:9000"])
    assert jumbo.segment_mtu("flat", "jumbo") == 9000
    assert jumbo.segment_mtu("flat", "physnet") == 1400
    assert jumbo.segment_mtu("flat", "unlisted") == 9000
    assert jumbo.segment_mtu("vxlan", None) == 8950
    # Physnet MTUs do not touch tunnels.
    assert config.segment_mtu("vxlan", None) == 1450


def test_path_mtu():
    small = types(ml2__path_mtu=1400)
    assert small.segment_mtu("vxlan", None) == 1350
    assert small.segment_mtu("gre", None) == 1358
    assert small.segment_mtu("geneve", None) == 1350
    assert small.segment_mtu("flat", "physnet") == 1500  # path_mtu is about tunnels
    # A larger path MTU does not lift the global limit.
    assert types(ml2__path_mtu=9000).segment_mtu("vxlan", None) == 1450
    assert types(DEFAULT__global_physnet_mtu=9000, ml2__path_mtu=9000).segment_mtu(
        "vxlan", None) == 8950


def test_overlay_ip_version_6():
    config = types(ml2__overlay_ip_version=6)
    assert config.segment_mtu("vxlan", None) == 1430  # 1500 - 40 (IPv6) - 30
    assert config.segment_mtu("gre", None) == 1438
    assert config.segment_mtu("geneve", None) == 1430
    assert config.segment_mtu("vlan", "physnet") == 1500


def test_global_mtu():
    config = types(DEFAULT__global_physnet_mtu=1400)
    assert config.segment_mtu("vlan", "physnet") == 1400
    assert config.segment_mtu("vxlan", None) == 1350
    assert config.network_mtu([{"network_type": "local"}]) == 1400
