"""KeystoneAuth without a Keystone: the real keystonemiddleware, with its token lookup faked.

`AuthProtocol.fetch_token` is the one method that would ask Keystone; it is replaced by a
lookup in a dict of v3 token bodies (what keystonemiddleware's own AuthTokenFixture does,
without its dependency on the `fixtures` package). Everything else — header stripping, header setting, 401/503 answers —
is the middleware's own code. tests/integration/test_keystone_adapter.py does the same
against a real Keystone.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid

import pytest

pytest.importorskip("keystonemiddleware")

from keystonemiddleware import auth_token  # noqa: E402
from keystonemiddleware.auth_token import _exceptions as ksm_exceptions  # noqa: E402

from fermion.api.keystone import KeystoneAuth, KeystoneConfigError  # noqa: E402
from fermion.model.context import Context  # noqa: E402

CONF = {
    "www_authenticate_uri": "http://keystone.invalid:5000",
    "auth_url": "http://keystone.invalid:5000",
    "auth_type": "password",
    "username": "fermion",
    "password": "secret",
    "project_name": "service",
    "user_domain_name": "Default",
    "project_domain_name": "Default",
    "region_name": "RegionOne",
}


@pytest.fixture
def tokens(monkeypatch):
    """token id -> v3 token body; fetch_token answers from it, like AuthTokenFixture."""
    data: dict[str, dict] = {}

    def fetch_token(self, token, **kwargs):
        if token in data:
            return data[token]
        raise ksm_exceptions.InvalidToken("unknown token")

    monkeypatch.setattr(auth_token.AuthProtocol, "fetch_token", fetch_token)
    return data


def add_token(tokens, project_id, roles, user_id=None, project_name=None) -> str:
    """A v3 project-scoped token body, as GET /v3/auth/tokens returns it."""
    now = datetime.datetime.now(datetime.UTC)
    domain = {"id": "default", "name": "Default"}
    tokens[token_id := uuid.uuid4().hex] = {
        "token": {
            "methods": ["password"],
            "issued_at": now.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
            "expires_at": (now + datetime.timedelta(hours=1)).strftime(
                "%Y-%m-%dT%H:%M:%S.000000Z"),
            "user": {"id": user_id or uuid.uuid4().hex, "name": "u", "domain": domain},
            "project": {"id": project_id, "name": project_name or "p", "domain": domain},
            "roles": [{"id": uuid.uuid4().hex, "name": r} for r in roles],
            "catalog": [],
        }
    }
    return token_id


def test_valid_token_gives_context(tokens):
    auth = KeystoneAuth(CONF)
    tid = add_token(tokens, "proj-a", ["member", "reader"], user_id="alice-id",
                    project_name="demo-a")
    ctx = auth.authenticate({"X-Auth-Token": tid})
    assert ctx == Context(project_id="proj-a", user_id="alice-id",
                          roles=frozenset({"member", "reader"}), project_name="demo-a")
    assert ctx.can_write and not ctx.is_admin


def test_header_names_are_case_insensitive_and_roles_lowercased(tokens):
    auth = KeystoneAuth(CONF)
    tid = add_token(tokens, "proj-a", ["Admin", "Reader"])
    ctx = auth.authenticate({"x-auth-token": tid})
    assert ctx.roles == frozenset({"admin", "reader"})
    assert ctx.is_admin


def test_reader_cannot_write(tokens):
    auth = KeystoneAuth(CONF)
    ctx = auth.authenticate({"X-Auth-Token": add_token(tokens, "proj-a", ["reader"])})
    assert ctx.roles == frozenset({"reader"})
    assert not ctx.can_write


def test_client_identity_headers_are_stripped(tokens):
    auth = KeystoneAuth(CONF)
    tid = add_token(tokens, "proj-a", ["reader"], user_id="rita-id")
    spoof = {
        "X-Auth-Token": tid,
        "X-Project-Id": "someone-else", "X-Tenant-Id": "someone-else",
        "X-Roles": "admin", "X-Role": "admin", "X-User-Id": "root",
        "X-Identity-Status": "Confirmed", "X-Project-Name": "admin",
        "X-Service-Roles": "service", "X-Is-Admin-Project": "True",
    }
    ctx = auth.authenticate(spoof)
    assert ctx == Context(project_id="proj-a", user_id="rita-id", roles=frozenset({"reader"}),
                          project_name="p")


def _assert_401(result):
    assert isinstance(result, tuple), result
    status, headers, body = result
    assert status == 401
    assert ("WWW-Authenticate", 'Keystone uri="http://keystone.invalid:5000"') in headers
    assert json.loads(body)["error"]["code"] == 401


def test_missing_token_is_401_even_with_spoofed_headers(tokens):
    auth = KeystoneAuth(CONF)
    _assert_401(auth.authenticate({}))
    _assert_401(auth.authenticate({"X-Identity-Status": "Confirmed", "X-Project-Id": "p",
                                   "X-Roles": "admin"}))


def test_invalid_token_is_401(tokens):
    auth = KeystoneAuth(CONF)
    _assert_401(auth.authenticate({"X-Auth-Token": "not-a-token", "X-Roles": "admin"}))


def test_delay_auth_decision_still_rejects_anonymous(tokens):
    auth = KeystoneAuth({**CONF, "delay_auth_decision": "true"})
    _assert_401(auth.authenticate({"X-Auth-Token": "not-a-token"}))
    _assert_401(auth.authenticate({"X-Identity-Status": "Confirmed", "X-Project-Id": "p"}))
    tid = add_token(tokens, "proj-b", ["member"])
    assert auth.authenticate({"X-Auth-Token": tid}).project_id == "proj-b"


def test_concurrent_callers_each_get_their_own_identity(tokens):
    auth = KeystoneAuth(CONF)
    expected = {}
    for i in range(16):
        roles = ["reader"] if i % 2 else ["member", "reader"]
        expected[add_token(tokens, f"proj-{i}", roles)] = (f"proj-{i}", frozenset(roles))
    errors: list[str] = []
    barrier = threading.Barrier(8)

    def worker(ids):
        barrier.wait()
        for _ in range(25):
            for tid in ids:
                ctx = auth.authenticate({"X-Auth-Token": tid, "X-Project-Id": "spoof"})
                if (ctx.project_id, ctx.roles) != expected[tid]:
                    errors.append(f"{tid}: got {ctx}")

    ids = list(expected)
    threads = [threading.Thread(target=worker, args=(ids[i::8] + ids[: 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_keystone_unreachable_is_503():
    # A closed port on loopback: no connect retries, so this fails fast.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    auth = KeystoneAuth({**CONF, "auth_url": url, "www_authenticate_uri": url,
                         "http_request_max_retries": "0", "http_connect_timeout": "2"})
    status, headers, body = auth.authenticate({"X-Auth-Token": "whatever"})
    assert status == 503


@pytest.mark.parametrize(
    "conf, message",
    [
        ({k: v for k, v in CONF.items() if k != "auth_type"}, "auth_type is not set"),
        ({**CONF, "auth_type": "no-such-plugin"}, "no-such-plugin"),
        ({**CONF, "http_connect_timeout": "soon"}, "http_connect_timeout"),
    ],
)
def test_bad_config_fails_at_construction(conf, message):
    with pytest.raises(KeystoneConfigError, match=message):
        KeystoneAuth(conf)


def test_does_not_touch_global_oslo_config():
    from oslo_config import cfg

    KeystoneAuth(CONF)
    # keystonemiddleware registers its options on cfg.CONF when imported; the values given
    # to KeystoneAuth must stay on its private ConfigOpts.
    group = cfg.CONF.keystone_authtoken
    assert group.www_authenticate_uri is None
    assert "username" not in group
