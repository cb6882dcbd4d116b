"""The server as a process: it says where it listens, logs each request at INFO, and stops on
SIGTERM without waiting for its long-polling watchers' timeouts."""

from __future__ import annotations

import signal
import threading
import time

import httpx


def test_logs_listening_and_each_request(fermion_server):
    server = fermion_server()
    httpx.get(f"{server.url}/v2.0/networks?name=logged-one")
    log = server.log_path.read_text()
    assert f"INFO fermion.server: listening on http://127.0.0.1:{server.port}" in log
    assert '"GET /v2.0/networks?name=logged-one HTTP/1.1" 200' in log


def test_sigterm_does_not_wait_for_watchers(fermion_server):
    server = fermion_server()
    answers = []

    def watch():
        try:
            answers.append(httpx.get(f"{server.url}/v2.0/fermion/changes?since=0&timeout=60",
                                     timeout=90).status_code)
        except httpx.HTTPError as exc:
            answers.append(type(exc).__name__)

    watchers = [threading.Thread(target=watch, daemon=True) for _ in range(3)]
    for w in watchers:
        w.start()
    proc = server.proc
    deadline = time.monotonic() + 15
    while established(server.port) < 3:  # the three long-polls are in the server's hands
        assert time.monotonic() < deadline, "watchers did not connect"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    # the 60 s long-polls are cut short: the server is gone long before their timeout
    proc.wait(timeout=15)
    assert "Finished server process" in server.log_path.read_text()
    for w in watchers:
        w.join(timeout=15)
    assert len(answers) == 3


def established(port: int) -> int:
    """Established TCP connections to `port` on this machine (server side)."""
    count = 0
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "01" and int(local.split(":")[1], 16) == port:
            count += 1
    return count
