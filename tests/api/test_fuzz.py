"""Fuzzing: schemathesis over the server's own OpenAPI document, with zero 5xx.

One schemathesis run (the engine its CLI uses: examples and coverage phases, then fuzzing
in positive and negative modes) over every operation of ``/openapi.json`` of a real server,
checking every response with schemathesis' ``not_a_server_error`` and every 4xx body for
NeutronError form (``{"NeutronError": {"type", "message", "detail"}}`` as strings; only
Fermion's own endpoints add keys, like the change feed's ``revision``).

Random ids and addresses mostly end in a 400/404 at the first validator, so fuzzing is
steered towards the state the server really has: path ids are sometimes those of live seed
objects (a network with IPv4/IPv6 subnets, a port, a subnet pool, and one of every other
collection a name alone creates; re-created when the fuzzer deletes one), generated bodies
sometimes carry real ids, well-formed CIDRs, addresses and MACs in place of generated
strings, and half of the subnet, port and subnet pool creates are plausible bodies
(matching IP versions, addresses in or near the CIDR, IPv6 modes...) that reach IPAM.

Bounded and deterministic: a fixed number of examples per operation
(``FERMION_FUZZ_EXAMPLES``; by default a total of 2400 shared by the operations, 5 to 50
each), derandomized generation with a fixed seed, and a time limit as a safety net
(``FERMION_FUZZ_MAX_TIME``, a failure when reached); one to two minutes on two cores.
The test also asserts the run reached every operation and that creates and updates of the
core resources succeeded, so a fuzzer stuck at the first validator does not pass silently.
"""

from __future__ import annotations

import collections
import ipaddress
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.engine import Status, events, from_schema

from tests.fixtures.server import FermionServer

# Examples per operation: FERMION_FUZZ_EXAMPLES, else a total budget shared by all operations
# (the API grows; the run time should not), between 5 and 50 each.
EXAMPLES = int(os.environ.get("FERMION_FUZZ_EXAMPLES", "0"))
TOTAL_EXAMPLES = 2400
MAX_TIME = float(os.environ.get("FERMION_FUZZ_MAX_TIME", "240"))  # seconds, a safety net
SEED = 20260611


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory) -> Iterator[FermionServer]:
    # Unlimited quotas: hundreds of fuzzed creates must not all end in OverQuota.
    quotas = {f"quota_{name}": -1 for name in ("network", "subnet", "port", "subnetpool")}
    server = FermionServer(tmp_path_factory.mktemp("fuzz"),
                           extra_conf={("neutron.conf", "quotas"): quotas})
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- live objects for the fuzzer to aim at ----------------------------------------------------


@dataclass
class Seeds:
    """Live objects whose ids the fuzzer may use; re-created when a fuzzed DELETE removes one.

    A network with an IPv4 and an IPv6 subnet, a port and a subnet pool, plus one object of
    every other collection that can be created from a name alone (routers, security groups,
    address scopes...), found in the OpenAPI document.
    """

    client: httpx.Client
    collections: list[str]  # every /v2.0/<collection>/{id} the document has
    ids: dict[str, str] = field(default_factory=dict)  # collection (or "subnet6") -> id
    dirty: bool = False  # a write since the last ensure() may have deleted one
    v4: str = "10.1.0.0/24"
    v6: str = "fd00:5eed::/64"

    def _alive(self, collection: str, key: str | None = None) -> bool:
        key = key or collection
        return key in self.ids and self.client.get(
            f"/v2.0/{collection}/{self.ids[key]}").status_code == 200

    def _create(self, collection: str, key: str, member: str, **attrs: Any) -> bool:
        r = self.client.post(f"/v2.0/{collection}", json={member: attrs})
        if r.status_code == 201:
            self.ids[key] = r.json()[member]["id"]
            return True
        self.ids.pop(key, None)
        return False

    def _subnet(self, key: str, version: int) -> None:
        for n in range(1, 200):  # fuzzed subnets on the seed network may hold the first ones
            cidr = f"10.{n}.0.0/24" if version == 4 else f"fd00:5eed:{n:x}::/64"
            if self._create("subnets", key, "subnet", network_id=self.ids["networks"],
                            ip_version=version, cidr=cidr, name="fuzz-seed"):
                setattr(self, "v4" if version == 4 else "v6", cidr)
                return

    def ensure(self) -> None:
        self.dirty = False
        if not self._alive("networks"):
            for key in ("networks", "subnets", "subnet6", "ports"):
                self.ids.pop(key, None)
            if not self._create("networks", "networks", "network", name="fuzz-seed",
                                tags=["seed"]):
                return
        if not self._alive("subnets"):
            self._subnet("subnets", 4)
        if not self._alive("subnets", "subnet6"):
            self._subnet("subnet6", 6)
        if not self._alive("ports"):
            self._create("ports", "ports", "port", network_id=self.ids["networks"],
                         name="fuzz-seed")
        if not self._alive("subnetpools"):
            self._create("subnetpools", "subnetpools", "subnetpool", name="fuzz-seed",
                         prefixes=["10.128.0.0/9"], default_prefixlen=26)
        for collection in self.collections:
            if collection in self.ids or self._alive(collection):
                continue
            member = collection.rstrip("s").replace("-", "_")
            if not self._create(collection, collection, member, name="fuzz-seed"):
                listed = self.client.get(f"/v2.0/{collection}", params={"limit": 1})
                items = listed.json().get(collection, []) if listed.status_code == 200 else []
                if items and isinstance(items[0], dict) and "id" in items[0]:
                    self.ids[collection] = items[0]["id"]

    def id_for(self, path: str) -> str | None:
        """The seed id fitting an operation's first path id: /v2.0/<collection>/{id}..."""
        parts = path.split("/")
        collection = parts[2] if len(parts) > 2 else ""
        if collection == "network-ip-availabilities":
            collection = "networks"
        return self.ids.get(collection)

    def get(self, key: str) -> str:
        return self.ids.get(key, "00000000-0000-4000-8000-000000000000")


def _networks(version: int, shortest: int = 0) -> st.SearchStrategy[ipaddress._BaseNetwork]:
    bits = 32 if version == 4 else 128
    make = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    return st.tuples(st.integers(0, 2**bits - 1), st.integers(shortest, bits)).map(
        lambda t: make((t[0], t[1]), strict=False))


def _cidrs() -> st.SearchStrategy[str]:
    common = st.sampled_from(["10.0.0.0/24", "10.1.2.0/28", "192.168.0.0/30", "10.128.4.0/26",
                              "fd00:5eed::/64", "fd00:1::/64", "2001:db8::/48", "10.9.9.0/32"])
    return st.one_of(common, st.one_of(_networks(4), _networks(6)).map(str))


def _inside(cidr: str) -> st.SearchStrategy[str]:
    """An address of the network (network and broadcast addresses included)."""
    net = ipaddress.ip_network(cidr)
    return st.integers(0, net.num_addresses - 1).map(lambda i: str(net[i]))
def _addresses() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["10.1.0.1", "10.1.0.2", "10.1.0.255", "10.0.0.0", "fd00:5eed::1",
                         "fd00:5eed::ffff", "169.254.169.254", "0.0.0.0", "::"]),
        st.ip_addresses().map(str))


def _macs() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["fa:16:3e:00:00:01", "FA-16-3E-00-00-02",
                                      "01:00:5e:00:00:01", "00:00:00:00:00:00"]),
                     st.binary(min_size=6, max_size=6).map(
                         lambda b: ":".join(f"{x:02x}" for x in b)))


def _realistic(seeds: Seeds) -> dict[str, st.SearchStrategy]:
    """Well-formed values for attributes that no schema-only generator gets right."""
    # st.builds: the seed ids are read per draw (a fuzzed DELETE may have replaced them).
    return {
        "network_id": st.builds(lambda: seeds.get("networks")),
        "subnet_id": st.one_of(st.builds(lambda: seeds.get("subnets")),
                               st.builds(lambda: seeds.get("subnet6"))),
        "subnetpool_id": st.builds(lambda: seeds.get("subnetpools")),
        "router_id": st.builds(lambda: seeds.get("routers")),
        "port_id": st.builds(lambda: seeds.get("ports")),
        "address_scope_id": st.builds(lambda: seeds.get("address-scopes")),
        "security_group_id": st.builds(lambda: seeds.get("security-groups")),
        "floating_network_id": st.builds(lambda: seeds.get("networks")),
        "cidr": _cidrs(),
        "prefixes": st.lists(_cidrs(), min_size=1, max_size=3),
        "destination": _cidrs(),
        "remote_ip_prefix": _cidrs(),
        "gateway_ip": st.one_of(st.none(), _addresses()),
        "ip_address": _addresses(),
        "floating_ip_address": _addresses(),
        "fixed_ip_address": _addresses(),
        "nexthop": _addresses(),
        "start": _addresses(),
        "end": _addresses(),
        "dns_nameservers": st.lists(_addresses(), max_size=3),
        "mac_address": _macs(),
        "ip_version": st.sampled_from([4, 6]),
        "prefixlen": st.integers(0, 129),
        "provider:network_type": st.sampled_from(["flat", "vlan", "vxlan", "gre", "geneve",
                                                  "local"]),
        "provider:physical_network": st.sampled_from(["physnet", "other", None]),
        "provider:segmentation_id": st.one_of(st.none(), st.integers(0, 5000)),
        "device_owner": st.sampled_from(["", "compute:nova", "network:dhcp",
                                         "network:router_interface"]),
    }


@st.composite
def _subnet_body(draw, seeds: Seeds) -> dict:
    """A plausible subnet on the seed network: matching version, addresses inside or near."""
    version = draw(st.sampled_from([4, 6]))
    attrs: dict[str, Any] = {"network_id": seeds.get("networks"), "ip_version": version}
    if draw(st.integers(0, 4)) == 0:
        attrs.update(subnetpool_id=seeds.get("subnetpools"),
                     prefixlen=draw(st.integers(8, 32)))
        return {"subnet": attrs}
    net = draw(_networks(version, 20 if version == 4 else 100))
    attrs["cidr"] = str(net)
    near = st.one_of(_inside(str(net)), _addresses())
    if draw(st.booleans()):
        attrs["gateway_ip"] = draw(st.one_of(st.none(), near))
    if draw(st.booleans()):
        attrs["allocation_pools"] = draw(st.lists(
            st.fixed_dictionaries({"start": near, "end": near}), max_size=3))
    if draw(st.booleans()):
        attrs["host_routes"] = draw(st.lists(st.fixed_dictionaries(
            {"destination": _cidrs(), "nexthop": near}), max_size=3))
    if draw(st.booleans()):
        attrs["dns_nameservers"] = draw(st.lists(_addresses(), max_size=6, unique=True))
    if version == 6 and draw(st.booleans()):
        modes = st.sampled_from([None, "slaac", "dhcpv6-stateful", "dhcpv6-stateless"])
        attrs.update(ipv6_ra_mode=draw(modes), ipv6_address_mode=draw(modes))
    if draw(st.booleans()):
        attrs["enable_dhcp"] = draw(st.booleans())
    return {"subnet": attrs}


@st.composite
def _port_body(draw, seeds: Seeds) -> dict:
    """A plausible port on the seed network: fixed IPs on its subnets, MACs, address pairs."""
    attrs: dict[str, Any] = {"network_id": seeds.get("networks")}
    subnets = [("subnets", seeds.v4), ("subnet6", seeds.v6)]
    if draw(st.booleans()):
        fixed = []
        for _ in range(draw(st.integers(0, 3))):
            key, cidr = draw(st.sampled_from(subnets))
            entry = draw(st.sampled_from(["subnet", "address", "both"]))
            item: dict[str, Any] = {}
            if entry in ("subnet", "both"):
                item["subnet_id"] = seeds.get(key)
            if entry in ("address", "both"):
                item["ip_address"] = draw(st.one_of(_inside(cidr), _addresses()))
            fixed.append(item)
        attrs["fixed_ips"] = fixed
    if draw(st.booleans()):
        attrs["mac_address"] = draw(_macs())
    if draw(st.booleans()):
        attrs["port_security_enabled"] = draw(st.booleans())
    if draw(st.booleans()):
        attrs["allowed_address_pairs"] = draw(st.lists(st.fixed_dictionaries(
            {"ip_address": st.one_of(_addresses(), _cidrs())},
            optional={"mac_address": _macs()}), max_size=3))
    if draw(st.booleans()):
        attrs["device_owner"] = draw(_realistic(seeds)["device_owner"])
    if draw(st.booleans()):
        attrs["binding:host_id"] = draw(st.sampled_from(["", "host-1", "compute-2"]))
    return {"port": attrs}


@st.composite
def _subnetpool_body(draw, seeds: Seeds) -> dict:
    """A plausible subnet pool: prefixes of one version, prefix lengths near them."""
    version = draw(st.sampled_from([4, 6]))
    bits = 32 if version == 4 else 128
    attrs: dict[str, Any] = {"prefixes": [str(n) for n in draw(st.lists(
        _networks(version, 8 if version == 4 else 32), min_size=1, max_size=3))]}
    for name in ("min_prefixlen", "default_prefixlen", "max_prefixlen"):
        if draw(st.booleans()):
            attrs[name] = draw(st.integers(0, bits))
    for name in ("is_default", "shared"):
        if draw(st.integers(0, 3)) == 0:
            attrs[name] = draw(st.booleans())
    if draw(st.booleans()):
        attrs["default_quota"] = draw(st.one_of(st.none(), st.integers(0, 2**20)))
    return {"subnetpool": attrs}


@st.composite
def _port_update(draw, seeds: Seeds) -> dict:
    """A plausible port update: the everyday attributes, sometimes with new fixed IPs."""
    attrs: dict[str, Any] = {"name": draw(st.text(max_size=20)),
                             "admin_state_up": draw(st.booleans())}
    if draw(st.booleans()):
        attrs["device_id"] = draw(st.text(max_size=36))
    if draw(st.booleans()):
        attrs["fixed_ips"] = [{"subnet_id": seeds.get("subnets")}]
    return {"port": attrs}


@st.composite
def _network_update(draw, seeds: Seeds) -> dict:
    """A plausible network update (name, description, admin state, MTU within bounds)."""
    attrs: dict[str, Any] = {"name": draw(st.text(max_size=20)),
                             "description": draw(st.text(max_size=40))}
    if draw(st.booleans()):
        attrs["mtu"] = draw(st.integers(68, 1500))
    return {"network": attrs}


TEMPLATES = {"POST /v2.0/subnets": _subnet_body, "POST /v2.0/ports": _port_body,
             "POST /v2.0/subnetpools": _subnetpool_body, "PUT /v2.0/ports/{id}": _port_update,
             "PUT /v2.0/networks/{id}": _network_update}


def _steer(value: Any, realistic: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """Keep the generated JSON, but let known keys take realistic values now and then."""
    if isinstance(value, dict):
        return st.fixed_dictionaries({
            k: st.one_of(_steer(v, realistic), realistic[k]) if k in realistic
            else _steer(v, realistic) for k, v in value.items()})
    if isinstance(value, list):
        return st.tuples(*[_steer(v, realistic) for v in value]).map(list)
    return st.just(value)


# -- checks --------------------------------------------------------------------------------------


def neutron_error_problem(response: Any) -> str | None:
    """Why an error response is not in NeutronError form (None when it is)."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return f"body is not JSON: {response.content[:200]!r}"
    if not (isinstance(body, dict) and set(body) == {"NeutronError"}):
        return f"not a NeutronError body: {str(body)[:200]}"
    error = body["NeutronError"]
    # Fermion's own endpoints may add keys (the change feed's 410 names the newest revision);
    # the three that Neutron clients read must be there, as strings.
    if not (isinstance(error, dict) and {"type", "message", "detail"} <= set(error)
            and all(isinstance(error[k], str) for k in ("type", "message", "detail"))
            and error["type"] and error["message"]):
        return f"malformed NeutronError: {str(error)[:200]}"
    return None


@dataclass
class Outcome:
    statuses: collections.Counter = field(default_factory=collections.Counter)
    by_operation: dict[str, collections.Counter] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter))
    problems: dict[tuple[str, int, str], str] = field(default_factory=dict)  # first curl each
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # phase -> seconds since start
    timed_out: bool = False
    last_label: str = ""
    # for diagnosis: (operation, status, message) -> first curl / how many
    first_error: dict[tuple[str, int, str], str] = field(default_factory=dict)
    error_counts: collections.Counter = field(default_factory=collections.Counter)


def operation_count(document: dict) -> int:
    return sum(1 for item in document["paths"].values() for method in item
               if method in ("get", "put", "post", "delete", "patch"))


def run_fuzz(server: FermionServer, examples: int, max_time: float) -> Outcome:
    admin = server.client()
    document = admin.get("/openapi.json").json()
    if not examples:
        examples = max(5, min(50, TOTAL_EXAMPLES // operation_count(document)))
    collections_ = sorted({path.split("/")[2] for path in document["paths"]
                           if path.startswith("/v2.0/") and path.count("/") >= 3
                           and path.split("/")[3] == "{id}"})
    seeds = Seeds(admin, collections_)
    seeds.ensure()
    outcome = Outcome()
    config = schemathesis.Config.from_dict({
        "base-url": server.url,
        "seed": SEED,
        "request-timeout": 30,
        "workers": 1,
        "generation": {"mode": "all", "max-examples": examples, "deterministic": True},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True},
                   "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
        "checks": {"enabled": False, "not_a_server_error": {"enabled": True}},
    })
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json", config=config)
    realistic = _realistic(seeds)

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        if not path_parameters:
            return st.just(path_parameters)
        path = context.operation.path

        def live() -> dict:  # read at draw time: seeds are re-created after deletes
            out = dict(path_parameters)
            for name in path_parameters:
                if name == "id":
                    value = seeds.id_for(path)
                elif name == "tag":
                    value = "seed"
                elif name == "project_id":
                    value = "fuzz-project"
                else:  # network_id, router_id, ... -> networks, routers, ...
                    value = seeds.ids.get(name.removesuffix("_id").replace("_", "-") + "s")
                if value is not None:
                    out[name] = value
            return out

        if context.operation.label in TEMPLATES:
            # updates with a plausible body need a live id to succeed at all: mostly live
            # ids here, first (the generated ones are still sent, and by every other operation)
            return st.one_of(st.builds(live), st.builds(live), st.builds(live),
                             st.just(path_parameters))
        return st.one_of(st.just(path_parameters), st.builds(live))

    @schema.hook
    def flatmap_body(context, body):
        choices = [st.just(body), _steer(body, realistic)]
        template = TEMPLATES.get(context.operation.label)
        if template is not None:  # two thirds of these bodies are plausible ones, and they
            # come first: Hypothesis favours the first branch of one_of in early examples
            choices = [template(seeds)] * 4 + choices
        return st.one_of(choices)

    @schema.hook
    def after_call(context, case, response):
        label = context.operation.label if context.operation else "?"
        outcome.statuses[response.status_code] += 1
        outcome.by_operation[label][response.status_code] += 1
        if response.status_code >= 400:
            try:
                message = response.json()["NeutronError"]["message"][:120]
            except (ValueError, KeyError, TypeError):
                message = response.text[:120]
            outcome.first_error.setdefault((label, response.status_code, message),
                                           case.as_curl_command()[:600])
            outcome.error_counts[(label, response.status_code, message)] += 1
        problem = neutron_error_problem(response)
        if problem is not None:
            key = (label, response.status_code, problem[:60])
            outcome.problems.setdefault(key, f"{problem}\n    {case.as_curl_command()}")
        # A write may have removed a seed (a DELETE, or a router interface taking a port
        # away): check them once the run moves on to the next operation.
        if case.method in ("PUT", "DELETE") and response.status_code < 300:
            seeds.dirty = True
        if label != outcome.last_label:
            outcome.last_label = label
            if seeds.dirty:
                seeds.ensure()

    started = time.monotonic()
    # No max-time in the config: with one, the engine keeps fuzzing until the time is up.
    stream = from_schema(schema).execute()
    for event in stream:
        if isinstance(event, events.ScenarioFinished):
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        outcome.failures.append(
                            f"{event.label}: {check.name}: {check.failure_info.failure.title}\n"
                            f"    {check.failure_info.code_sample}")
        elif isinstance(event, events.NonFatalError):
            outcome.errors.append(f"{event.label}: {event.info.title}: {event.value!r:.500}")
        elif isinstance(event, events.FatalError):
            outcome.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.PhaseFinished):
            outcome.phases[event.phase.name.value] = round(time.monotonic() - started, 1)
        if time.monotonic() - started > max_time and not outcome.timed_out:
            outcome.timed_out = True  # a safety net, not a budget: the run is bounded by
            stream.stop()  # max-examples, and this stop is reported as a failure
    return outcome


def test_fuzz_openapi_no_server_errors(fuzz_server: FermionServer) -> None:
    started = time.monotonic()
    outcome = run_fuzz(fuzz_server, EXAMPLES, MAX_TIME)
    elapsed = time.monotonic() - started
    summary = (f"{sum(outcome.statuses.values())} requests in {elapsed:.0f} s over "
               f"{len(outcome.by_operation)} operations; statuses "
               f"{dict(sorted(outcome.statuses.items()))}; phases done at {outcome.phases}")
    print(summary)
    server_errors = sorted(set(outcome.failures))
    assert not server_errors and not outcome.errors, (
        summary + "\n" + "\n".join(server_errors[:20] + outcome.errors[:20])
        + "\n" + fuzz_server.log_tail(80))
    assert not any(status >= 500 for status in outcome.statuses), summary
    assert not outcome.timed_out, f"stopped after {MAX_TIME:.0f} s: {summary}"
    assert not outcome.problems, summary + "\nerror bodies not in NeutronError form:\n" + "\n".join(
        f"{label} -> {status}: {text}" for (label, status, _), text in outcome.problems.items())

    # The run really exercised the API: every documented operation, successes included.
    documented = {f"{method.upper()} {path}"
                  for path, item in httpx.get(fuzz_server.url + "/openapi.json").json()[
                      "paths"].items() for method in item}
    missing = documented - set(outcome.by_operation)
    assert not missing, f"operations never called: {sorted(missing)}"
    successes = {label for label, counts in outcome.by_operation.items()
                 if any(200 <= status < 300 for status in counts)}
    for label in ("POST /v2.0/networks", "POST /v2.0/subnets", "POST /v2.0/ports",
                  "POST /v2.0/subnetpools", "PUT /v2.0/networks/{id}", "PUT /v2.0/ports/{id}"):
        assert label in successes, (
            f"{label} never succeeded: {dict(outcome.by_operation[label])}\n" + "\n".join(
                f"{n} x {status} {message}\n    {outcome.first_error[(op, status, message)]}"
                for (op, status, message), n in outcome.error_counts.most_common()
                if op == label)[:6000])
