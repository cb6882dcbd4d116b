"""Keystone authentication (``auth_strategy = keystone``) through the real keystonemiddleware.

Neutron puts ``keystonemiddleware.auth_token`` in front of its WSGI app and reads the identity
from the headers the middleware sets. Fermion is an ASGI app, so :class:`KeystoneAuth` runs
the middleware around a tiny *capture* WSGI app instead: for each request it builds a minimal
WSGI environ from the request headers, calls :class:`keystonemiddleware.auth_token.AuthProtocol`
and then either

* the middleware let the request through to the capture app: the environ now carries
  ``X-Identity-Status: Confirmed``, ``X-Project-Id``, ``X-User-Id``, ``X-Roles``,
  ``X-Project-Name`` for the token, and ``authenticate`` returns a :class:`Context`; or
* the middleware answered by itself (401 with ``WWW-Authenticate: Keystone uri="…"`` for a
  missing/invalid/expired token, 503 when Keystone can't be reached): ``authenticate`` returns
  that response as ``(status, headers, body)`` for the server to send unchanged.

Client-supplied identity headers (``X-Project-Id``, ``X-Roles``, ``X-Identity-Status``,
``X-User-Id``, the ``X-Service-*`` set, …) are removed by the middleware itself before the
token is looked at (``AuthProtocol.process_request`` → ``remove_auth_headers``); a request
can't claim an identity its token doesn't have.

``authenticate`` blocks (it may call Keystone); the server calls it from a thread pool.
It is safe to call concurrently: every call has its own environ and the capture app keeps no
state; the middleware is built once, up front, and is itself made for threaded WSGI servers
(its token cache hands each caller its own cache client from a pool; keystoneauth serialises
fetching the service user's token with a lock).

The options are the ``[keystone_authtoken]`` section as Neutron reads it: the middleware's
own options (``www_authenticate_uri``, ``region_name``, ``memcached_servers``,
``delay_auth_decision``, …) and the auth plugin's (``auth_type = password``, ``auth_url``,
``username``, ``password``, ``project_name``, ``user_domain_name``, ``project_domain_name``,
…). They go into a private ``oslo.config`` object, never the process-global one.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from fermion.model.context import Context

LOG = logging.getLogger(__name__)

GROUP = "keystone_authtoken"

Response = tuple[int, list[tuple[str, str]], bytes]

# Headers (as WSGI environ keys) the middleware sets for a validated user token.
_IDENTITY_STATUS = "HTTP_X_IDENTITY_STATUS"
_PROJECT_ID = "HTTP_X_PROJECT_ID"
_PROJECT_NAME = "HTTP_X_PROJECT_NAME"
_USER_ID = "HTTP_X_USER_ID"
_ROLES = "HTTP_X_ROLES"
_CAPTURED = "fermion.keystone.captured"


class KeystoneConfigError(ValueError):
    """The ``[keystone_authtoken]`` options can't make a working middleware."""


def _capture_app(environ: dict[str, Any], start_response) -> Iterable[bytes]:
    """The app behind the middleware: reached only when the middleware lets a request pass."""
    environ[_CAPTURED] = True
    start_response("204 No Content", [])
    return [b""]


def _header_value(environ: Mapping[str, Any], key: str) -> str | None:
    value = environ.get(key)
    if value is None:
        return None
    value = str(value).strip()
    return value if value and value != "None" else None


class KeystoneAuth:
    """Validate ``X-Auth-Token`` with keystonemiddleware; see the module docstring."""

    blocking = True  # may call Keystone: the server runs authenticate() in a worker thread

    def __init__(self, options: Mapping[str, Any]):
        self.options = {k: v for k, v in options.items() if v is not None}
        self._protocol = self._build(dict(self.options))

    # ---------------------------------------------------------------- construction
    @staticmethod
    def _build(options: dict[str, Any]):
        try:
            from keystoneauth1 import exceptions as ksa_exceptions
            from keystoneauth1 import loading
            from keystonemiddleware import auth_token
            from keystonemiddleware import exceptions as ksm_exceptions
            from oslo_config import cfg
        except ImportError as e:  # pragma: no cover - depends on the install
            raise KeystoneConfigError(
                "auth_strategy = keystone needs keystonemiddleware "
                "(pip install 'fermion[keystone]'): " + str(e)
            ) from e

        auth_type = options.get("auth_type") or options.get("auth_plugin")
        if not auth_type:
            raise KeystoneConfigError(
                f"[{GROUP}] auth_type is not set (use auth_type = password with auth_url, "
                "username, password, project_name, user_domain_name, project_domain_name)"
            )

        # A private oslo.config object: the middleware registers its options there and
        # configures oslo.cache on it, leaving the process-global cfg.CONF alone.
        conf = cfg.ConfigOpts()
        conf(args=[], project="fermion", default_config_files=[], default_config_dirs=[])

        # The middleware takes its own options from the dict ("paste overrides", typed by
        # it). Auth plugin options (username, password, auth_url, …) are set on the
        # private config instead, where the middleware's plugin loader reads them, so it
        # doesn't warn that it doesn't know them.
        try:
            plugin_opts = loading.get_auth_plugin_conf_options(auth_type)
        except ksa_exceptions.NoMatchingPlugin as e:
            raise KeystoneConfigError(f"[{GROUP}] auth_type = {auth_type}: {e}") from e
        conf.register_opts(plugin_opts, group=GROUP)
        plugin_names: dict[str, str] = {}
        for opt in plugin_opts:
            plugin_names[opt.dest] = opt.dest
            plugin_names[opt.name.replace("-", "_")] = opt.dest
            for d in opt.deprecated_opts:
                if d.name and d.group in (None, GROUP):
                    plugin_names[d.name.replace("-", "_")] = opt.dest

        middleware_conf: dict[str, Any] = {
            "oslo_config_config": conf,
            # Defaults the section can override. Recommended by keystonemiddleware: an
            # X-Service-Token must carry a service role.
            "service_token_roles_required": "true",
            # Fermion never reads X-Service-Catalog: validate with ?nocatalog (less to
            # fetch, decode and cache per token).
            "include_service_catalog": "false",
        }
        for key, value in options.items():
            key = key.replace("-", "_")
            if key in ("auth_type", "auth_plugin"):
                middleware_conf["auth_type"] = value
            elif key in plugin_names:
                try:
                    conf.set_override(plugin_names[key], value, group=GROUP)
                except ValueError as e:
                    raise KeystoneConfigError(f"[{GROUP}] {key} = {value!r}: {e}") from e
            else:
                middleware_conf[key] = value

        try:
            protocol = auth_token.AuthProtocol(_capture_app, middleware_conf)
        except (ksm_exceptions.ConfigurationError, ksa_exceptions.ClientException,
                ValueError, cfg.Error) as e:
            raise KeystoneConfigError(f"[{GROUP}]: {e}") from e
        if not options.get("www_authenticate_uri") and not options.get("auth_uri"):
            LOG.warning("[%s] www_authenticate_uri is not set: 401 answers will name the "
                        "identity endpoint found through auth_url", GROUP)
        return protocol

    # ---------------------------------------------------------------- per request
    @staticmethod
    def _environ(headers: Mapping[str, str], method: str, path: str) -> dict[str, Any]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method.upper(),
            "SCRIPT_NAME": "",
            "PATH_INFO": path or "/",
            "QUERY_STRING": "",
            "SERVER_NAME": "fermion",
            "SERVER_PORT": "9696",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": "0",
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                continue  # the body stays with the server; the middleware never reads it
            environ["HTTP_" + key] = value
        return environ

    def authenticate(
        self, headers: Mapping[str, str], *, method: str = "GET", path: str = "/"
    ) -> Context | Response:
        """Return the request's :class:`Context`, or the response that rejects it.

        `headers` is the request's headers (any case). Blocking; thread-safe.
        """
        environ = self._environ(headers, method, path)
        captured: dict[str, Any] = {}

        def start_response(status: str, response_headers, exc_info=None):
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = [(str(k), str(v)) for k, v in response_headers]
            return lambda data: None  # the write() callable; webob doesn't use it

        result = self._protocol(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

        if not environ.get(_CAPTURED):
            # The middleware answered itself: 401 (no/invalid token), 503 (no Keystone)…
            status = captured.get("status", 500)
            return status, captured.get("headers", []), body

        if environ.get(_IDENTITY_STATUS) != "Confirmed":
            # Only with delay_auth_decision = true: the middleware passed an unauthenticated
            # request on. Fermion has nothing for anonymous callers, so reject it here.
            return self._unauthorized()

        roles = _header_value(environ, _ROLES) or ""
        return Context(
            project_id=_header_value(environ, _PROJECT_ID),
            user_id=_header_value(environ, _USER_ID),
            # oslo.policy compares role names case-insensitively; so does Context by lower-
            # casing them once here.
            roles=frozenset(r.strip().lower() for r in roles.split(",") if r.strip()),
            project_name=_header_value(environ, _PROJECT_NAME),
        )

    def _unauthorized(self) -> Response:
        body = (
            b'{"error": {"code": 401, "title": "Unauthorized", "message": '
            b'"The request you have made requires authentication."}}'
        )
        headers = [("Content-Type", "application/json"),
                   ("Content-Length", str(len(body)))]
        try:
            headers.append(("WWW-Authenticate",
                            f'Keystone uri="{self._protocol.www_authenticate_uri}"'))
        except Exception:  # discovery failed: answer without the hint
            LOG.exception("cannot determine www_authenticate_uri")
        return 401, headers, body
