"""Who may use the dashboard, and what it refuses (SPEC section 15).

* Exposure: listening on anything but a loopback address needs credentials
  (``QUEUECTL_WEB_PASSWORD`` for HTTP Basic, user ``QUEUECTL_WEB_USER`` or ``admin``; or
  ``QUEUECTL_WEB_TOKEN`` for ``Authorization: Bearer``). Once any is set, every route but
  ``/healthz`` asks for them, on loopback too.
* Mutations are POSTs, and a cross-site POST is refused: with ``Sec-Fetch-Site`` present, it
  must say ``same-origin``; without it, an ``Origin`` that is present must be the server's own.
  Browsers send Basic credentials on any request to the site, so this is the CSRF defence.
* ``--read-only`` refuses every POST (and the pages show no actions).
* Every answer carries a strict Content-Security-Policy: scripts, styles and everything else
  only from this server, no inline script or style, no framing.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, NamedTuple

from ..errors import UsageError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/healthz"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class Credentials(NamedTuple):
    user: str
    password: str | None
    token: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        return cls(
            env.get("QUEUECTL_WEB_USER") or "admin",
            env.get("QUEUECTL_WEB_PASSWORD") or None,
            env.get("QUEUECTL_WEB_TOKEN") or None,
        )

    @property
    def required(self) -> bool:
        return bool(self.password or self.token)

    def allow(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries these credentials."""
        scheme, _, value = (authorization or "").strip().partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if scheme == "bearer" and self.token:
            return _same(value, self.token)
        if scheme == "basic" and self.password:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, sep, password = decoded.partition(":")
            # Both compared every time: the answer's timing says nothing about which failed.
            return bool(sep) & _same(user, self.user) & _same(password, self.password)
        return False

    def challenge(self) -> bytes:
        if self.password:
            return b'Basic realm="queuectl", charset="UTF-8"'
        return b'Bearer realm="queuectl"'


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything, so it counts as exposed


def check_exposure(host: str, credentials: Credentials) -> None:
    """Refuse to serve beyond this machine without credentials (exit 2)."""
    if not is_loopback(host) and not credentials.required:
        raise UsageError(
            f"--host {host} is reachable from other machines: set QUEUECTL_WEB_PASSWORD"
            " (HTTP Basic, user QUEUECTL_WEB_USER or admin) or QUEUECTL_WEB_TOKEN (Bearer),"
            " or listen on 127.0.0.1"
        )


def cross_site(headers: Mapping[str, str], own_origin: str) -> bool:
    """Whether a request comes from another site (SPEC section 15's rule)."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.strip().lower() != "same-origin"
    origin = headers.get("origin")
    return origin is not None and origin.strip().lower() != own_origin.lower()


class Guard:
    """ASGI middleware in front of every route: credentials, the POST rules, headers."""

    def __init__(self, app: ASGIApp, credentials: Credentials, read_only: bool) -> None:
        self.app = app
        self.credentials = credentials
        self.read_only = read_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, message, extra = refusal
            await _answer(scope, send, status, message, extra)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(
        self, scope: Scope, headers: Mapping[str, str]
    ) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        creds = self.credentials
        open_path = scope["path"] in OPEN_PATHS
        if creds.required and not open_path and not creds.allow(headers.get("authorization")):
            return 401, "authentication required", [(b"www-authenticate", creds.challenge())]
        if scope["method"] in SAFE_METHODS:
            return None
        if cross_site(headers, own_origin(scope, headers)):
            return 403, "cross-site request refused", []
        if self.read_only:
            return 403, "this dashboard is read-only", []
        return None


def own_origin(scope: Scope, headers: Mapping[str, str]) -> str:
    host = headers.get("host")
    if host is None:
        server = scope.get("server") or ("", 0)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


async def _answer(
    scope: Scope, send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]]
) -> None:
    if scope["path"].startswith("/api/"):
        body = json.dumps({"error": message}).encode()
        kind = b"application/json"
    else:
        body = f"{status} {message}\n".encode()
        kind = b"text/plain; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + extra + HEADERS}
    )
    await send({"type": "http.response.body", "body": body})
