"""Failure containment bookkeeping (fermion.agent.retry): backoff, due, recovery, logs."""

from __future__ import annotations

import logging

from fermion.agent.retry import Failures, earliest, reason_of


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_up_to_the_most():
    f = Failures("router", first=1.0, most=30.0)
    assert [f.backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_failed_object_waits_for_its_retry_unless_it_changes():
    clock = Clock()
    f = Failures("router", clock=clock)
    assert f.due("r1", "state-a")
    f.failed("r1", RuntimeError("boom"), "state-a")
    assert "r1" in f and f.reason("r1") == "RuntimeError: boom"
    assert not f.due("r1", "state-a")
    assert f.due("r1", "state-b"), "a changed desired state is tried at once"
    clock.now += 1.0
    assert f.due("r1", "state-a")
    f.failed("r1", RuntimeError("boom"), "state-a")  # second attempt: 2 s
    assert f.next_retry() == clock.now + 2.0
    clock.now += 1.9
    assert not f.due("r1", "state-a")
    f.succeeded("r1")
    assert "r1" not in f and f.due("r1", "state-a") and f.next_retry() is None


def test_logs_each_attempt_once_with_id_and_reason(caplog):
    clock = Clock()
    f = Failures("port", clock=clock, expected=(OSError,))
    with caplog.at_level(logging.INFO, logger="fermion.agent.retry"):
        f.failed("p1", "OVS port tapx: could not open network device")
        f.failed("p1", "OVS port tapx: could not open network device")  # same, not due
        clock.now += 1.0
        f.failed("p1", "OVS port tapx: could not open network device")  # due: attempt 2
        f.failed("p2", OSError("no space"))
        f.failed("p3", KeyError("id"))
        f.succeeded("p1")
    records = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert records == [
        ("ERROR", "port p1 failed (attempt 1, next try in 1s): OVS port tapx: could not open "
                  "network device", False),
        ("ERROR", "port p1 failed (attempt 2, next try in 2s): OVS port tapx: could not open "
                  "network device", False),
        ("ERROR", "port p2 failed (attempt 1, next try in 1s): no space", False),
        ("ERROR", "port p3 failed (attempt 1, next try in 1s): KeyError: 'id'", True),
        ("INFO", "port p1 recovered after 2 failed attempt(s)", False)]


def test_forgotten_when_no_longer_wanted_and_earliest_of_several():
    clock = Clock()
    a, b = Failures("router", clock=clock), Failures("removal", clock=clock)
    a.failed("r1", "x")
    a.failed("r2", "y")
    a.keep_only(["r2"])
    assert dict(a.reasons()) == {"r2": "y"}
    assert earliest(a, b) == clock.now + 1.0
    assert earliest(b) is None


def test_reason_of_names_unexpected_exceptions_by_type():
    assert reason_of(OSError("gone"), (OSError,)) == "gone"
    assert reason_of(ValueError("bad\nmore"), (OSError,)) == "ValueError: bad"
    assert reason_of(RuntimeError()) == "RuntimeError"
