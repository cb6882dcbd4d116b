"""Status reports (fermion.agent.status): only what differs is sent, answers remembered."""

from __future__ import annotations

from fermion.agent.status import StatusReporter


class Server:
    """Answers a report as the server does: updated / unchanged / not_found."""

    def __init__(self, known: dict[str, str]):
        self.known = known
        self.sent: list[list[tuple[str, str]]] = []

    def __call__(self, statuses):
        self.sent.append(statuses)
        out = []
        for oid, status in statuses:
            if oid not in self.known:
                out.append({"id": oid, "result": "not_found"})
                continue
            result = "unchanged" if self.known[oid] == status else "updated"
            self.known[oid] = status
            out.append({"id": oid, "result": result})
        return out


def test_sends_only_what_differs_from_the_server_or_the_last_report():
    server = Server({"a": "DOWN", "b": "ACTIVE", "c": "DOWN"})
    rep = StatusReporter("port", server)
    assert rep.report({"a": "ACTIVE", "b": "ACTIVE", "c": "ERROR"}, dict(server.known)) == [
        ("a", "ACTIVE"), ("c", "ERROR")]
    # the snapshot may lag behind: what was reported counts, nothing is sent again
    assert rep.report({"a": "ACTIVE", "b": "ACTIVE", "c": "ERROR"},
                      {"a": "DOWN", "b": "ACTIVE", "c": "DOWN"}) == []
    assert rep.report({"a": "ACTIVE", "b": "ACTIVE", "c": "ACTIVE"}, {"b": "ACTIVE"}) == [
        ("c", "ACTIVE")]
    assert len(server.sent) == 2


def test_reported_objects_no_longer_wanted_go_down_and_unknown_ones_are_forgotten():
    server = Server({"a": "DOWN"})
    rep = StatusReporter("floating IP", server)
    rep.report({"a": "ACTIVE", "gone": "ACTIVE"}, {})
    assert rep.reported == {"a": "ACTIVE"}  # "gone" was not_found: forgotten
    assert rep.report({}, {}) == [("a", "DOWN")]
    assert rep.report({}, {}) == []
    assert server.known == {"a": "DOWN"}
