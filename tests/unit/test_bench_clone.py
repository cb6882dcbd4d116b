"""bench.peer_neutron.clone_ports on a small database shaped like upstream Neutron's."""

import ipaddress
import sqlite3

from bench.peer_neutron import clone_ports

SCHEMA = """
CREATE TABLE standardattributes (id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_type VARCHAR(255) NOT NULL, description VARCHAR(255),
    revision_number BIGINT NOT NULL, created_at DATETIME, updated_at DATETIME);
CREATE TABLE networks (id VARCHAR(36) PRIMARY KEY);
CREATE TABLE subnets (id VARCHAR(36) PRIMARY KEY, network_id VARCHAR(36), gateway_ip VARCHAR(64));
CREATE TABLE ipallocationpools (id VARCHAR(36) PRIMARY KEY, subnet_id VARCHAR(36),
    first_ip VARCHAR(64), last_ip VARCHAR(64));
CREATE TABLE ipamsubnets (id VARCHAR(36) PRIMARY KEY, neutron_subnet_id VARCHAR(36));
CREATE TABLE ipamallocations (ip_address VARCHAR(64), status VARCHAR(36),
    ipam_subnet_id VARCHAR(36) REFERENCES ipamsubnets (id),
    PRIMARY KEY (ip_address, ipam_subnet_id));
CREATE TABLE ports (name VARCHAR(255), network_id VARCHAR(36) REFERENCES networks (id),
    mac_address VARCHAR(32), status VARCHAR(16), device_id VARCHAR(255),
    standard_attr_id BIGINT NOT NULL UNIQUE REFERENCES standardattributes (id),
    id VARCHAR(36) PRIMARY KEY, project_id VARCHAR(255),
    UNIQUE (network_id, mac_address));
CREATE TABLE ipallocations (port_id VARCHAR(36) REFERENCES ports (id),
    ip_address VARCHAR(64), subnet_id VARCHAR(36), network_id VARCHAR(36),
    PRIMARY KEY (ip_address, subnet_id, network_id));
CREATE TABLE ml2_port_bindings (port_id VARCHAR(36) REFERENCES ports (id),
    host VARCHAR(255), vif_type VARCHAR(64), PRIMARY KEY (port_id, host));
CREATE TABLE securitygroupportbindings (port_id VARCHAR(36) REFERENCES ports (id),
    security_group_id VARCHAR(36), PRIMARY KEY (port_id, security_group_id));
CREATE TABLE tags (standard_attr_id BIGINT REFERENCES standardattributes (id),
    tag VARCHAR(60), PRIMARY KEY (standard_attr_id, tag));
"""


def _neutron_like(path):
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO networks VALUES ('net')")
    for sid, cidr_gw, first, last in (("s1", "10.0.0.1", "10.0.0.2", "10.0.0.30"),
                                      ("s2", "10.1.0.1", "10.1.0.2", "10.1.0.30")):
        db.execute("INSERT INTO subnets VALUES (?, 'net', ?)", (sid, cidr_gw))
        db.execute("INSERT INTO ipallocationpools VALUES (?, ?, ?, ?)",
                   ("pool-" + sid, sid, first, last))
        db.execute("INSERT INTO ipamsubnets VALUES (?, ?)", ("ipam-" + sid, sid))
    ports = (("a", "fa:16:3e:00:00:01", [("s1", "10.0.0.5"), ("s2", "10.1.0.5")], []),
             ("b", "fa:16:3e:00:00:02", [("s1", "10.0.0.30")], ["red"]))
    for n, (pid, mac, ips, tags) in enumerate(ports, start=1):
        db.execute("INSERT INTO standardattributes VALUES (?, 'ports', '', 1, 't0', 't0')",
                   (n,))
        db.execute("INSERT INTO ports VALUES (?, 'net', ?, 'DOWN', 'dev', ?, ?, 'proj')",
                   ("bulk-" + pid, mac, n, pid))
        for sid, ip in ips:
            db.execute("INSERT INTO ipallocations VALUES (?, ?, ?, 'net')", (pid, ip, sid))
            db.execute("INSERT INTO ipamallocations VALUES (?, 'ALLOCATED', ?)",
                       (ip, "ipam-" + sid))
        db.execute("INSERT INTO ml2_port_bindings VALUES (?, '', 'unbound')", (pid,))
        db.execute("INSERT INTO securitygroupportbindings VALUES (?, 'sg')", (pid,))
        for tag in tags:
            db.execute("INSERT INTO tags VALUES (?, ?)", (n, tag))
    db.commit()
    db.close()


def test_copies_every_row_of_a_port_with_fresh_ids_macs_and_addresses(tmp_path):
    path = tmp_path / "neutron.sqlite"
    _neutron_like(path)
    names = [f"bulk-{i}" for i in range(5)]
    devices = [f"bench-dev-{i // 2}" for i in range(5)]
    new = clone_ports(path, "net", ["a", "b"], names, devices)

    db = sqlite3.connect(path)
    assert len(set(new)) == 5
    ports = db.execute("SELECT id, name, device_id, mac_address, standard_attr_id, status "
                       "FROM ports WHERE id NOT IN ('a', 'b') ORDER BY name").fetchall()
    assert [p[0] for p in sorted(ports, key=lambda p: new.index(p[0]))] == new
    assert [(p[1], p[2]) for p in ports] == list(zip(names, devices, strict=True))
    assert len({p[3] for p in ports} | {"fa:16:3e:00:00:01", "fa:16:3e:00:00:02"}) == 7
    assert all(p[5] == "DOWN" for p in ports)
    std = db.execute("SELECT id, resource_type, revision_number, created_at "
                     "FROM standardattributes WHERE id > 2").fetchall()
    assert sorted(p[4] for p in ports) == [s[0] for s in std]
    assert {s[1:] for s in std} == {("ports", 1, "t0")}
    # Templates alternate: a, b, a, b, a → 3 copies with two fixed IPs, 2 with one.
    ips = db.execute("SELECT port_id, subnet_id, ip_address FROM ipallocations").fetchall()
    assert len(ips) == 3 + 3 * 2 + 2
    assert len({(s, ip) for _, s, ip in ips}) == len(ips)
    for _, subnet, ip in ips:
        net = "10.0.0." if subnet == "s1" else "10.1.0."
        assert ip.startswith(net) and 2 <= int(ipaddress.ip_address(ip)) % 256 <= 30
    ipam = set(db.execute("SELECT ipam_subnet_id, ip_address FROM ipamallocations"))
    assert ipam == {("ipam-" + s, ip) for _, s, ip in ips}
    assert db.execute("SELECT count(*) FROM ml2_port_bindings").fetchone()[0] == 7
    assert db.execute("SELECT count(*) FROM securitygroupportbindings "
                      "WHERE security_group_id = 'sg'").fetchone()[0] == 7
    tagged = {r[0] for r in db.execute("SELECT standard_attr_id FROM tags WHERE tag = 'red'")}
    copies_of_b = {p[4] for p in ports if p[1] in ("bulk-1", "bulk-3")}
    assert tagged == {2} | copies_of_b
