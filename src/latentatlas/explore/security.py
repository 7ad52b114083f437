"""What keeps the explorer a private, local server (the rules Jupyter's server follows).

- a random token made at start (`secrets.token_urlsafe`), required on every request: as
  `?token=`, as the header `X-Explore-Token` (or `Authorization: token ...`), or as the
  cookie the first page load sets (HttpOnly, SameSite=Strict);
- the Host header checked against an allow-list, so that a web page on another origin
  cannot reach the server through DNS rebinding;
- every request bounded: path length, query length, body size; JSON bodies are parsed
  here, with the bound enforced while the body streams in.

`Guard` is plain ASGI middleware; it answers refusals itself with a short JSON line.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

COOKIE = "latentatlas_explore"
TOKEN_HEADER = b"x-explore-token"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may ask; the page never needs more."""
    max_body: int = 2_000_000        # bytes of a request body (70,000 indices as JSON fit)
    max_path: int = 512              # characters of the URL path
    max_query: int = 2048            # characters of the query string
    max_path_points: int = 1000      # vertices of a drawn path
    max_steps: int = 64              # decoded frames of a walk or traversal
    max_neighbours: int = 32


@dataclass
class Policy:
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    allowed_hosts: frozenset = LOCAL_HOSTS
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def for_host(cls, host: str, extra_hosts=(), token: str | None = None) -> Policy:
        hosts = set(LOCAL_HOSTS) | {h.strip("[]").lower() for h in (host, *extra_hosts) if h}
        return cls(token=token or secrets.token_urlsafe(24), allowed_hosts=frozenset(hosts))


class RequestError(Exception):
    """A bad request: the status and one short line for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def host_name(value: str) -> str:
    """'127.0.0.1:8765' -> '127.0.0.1', '[::1]:80' -> '::1', 'LocalHost' -> 'localhost'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else ""
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _headers(scope) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    for k, v in scope.get("headers", []):
        out.setdefault(k.lower(), v)
    return out


def presented_token(scope) -> tuple[str, bool]:
    """(the token the request carries, whether it came in the query string)."""
    headers = _headers(scope)
    if TOKEN_HEADER in headers:
        return headers[TOKEN_HEADER].decode("latin-1"), False
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("token "):
        return auth[6:].strip(), False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0], True
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
    except CookieError:  # a malformed cookie header is simply no token
        return "", False
    return (cookie[COOKIE].value if COOKIE in cookie else ""), False


async def _send_json(send, status: int, message: str, extra_headers=()) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), *extra_headers]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware: Host allow-list, token, and size bounds, before any route runs."""

    def __init__(self, app, policy: Policy):
        self.app = app
        self.policy = policy

    def refusal(self, scope) -> tuple[int, str] | None:
        limits = self.policy.limits
        if len(scope.get("path", "")) > limits.max_path:
            return 414, "path too long"
        if len(scope.get("query_string", b"")) > limits.max_query:
            return 414, "query string too long"
        headers = _headers(scope)
        host = host_name(headers.get(b"host", b"").decode("latin-1"))
        if host not in self.policy.allowed_hosts:
            return 403, "host not allowed (DNS-rebinding protection); open the URL the server printed"
        token, _ = presented_token(scope)
        if not token:
            return 401, "missing token; open the URL the server printed (it ends in ?token=...)"
        if not hmac.compare_digest(token.encode(), self.policy.token.encode()):
            return 403, "wrong token; open the URL the server printed"
        length = headers.get(b"content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                return 400, "bad Content-Length"
            if n > limits.max_body:
                return 413, f"request body over {limits.max_body} bytes"
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":              # lifespan; websockets are not served
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused:
            await _send_json(send, *refused)
            return
        token, in_query = presented_token(scope)
        if not in_query or scope.get("path") != "/":
            await self.app(scope, receive, send)
            return
        # The page loaded with ?token=: set the cookie so that a reload without the query still works.
        cookie = (f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/").encode()

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), (b"set-cookie", cookie)])
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def read_json_body(request, max_body: int) -> dict:
    """The request's JSON object, read with the size bound enforced as it streams in."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise RequestError(413, f"request body over {max_body} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks) or b"null", parse_constant=_no_constants)
    except ValueError as exc:
        raise RequestError(400, f"body is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(body, dict):
        raise RequestError(400, "body must be a JSON object")
    return body


def _no_constants(name: str):
    """JSON has no NaN/Infinity; Python's parser accepts them unless told not to."""
    raise ValueError(f"{name} is not a number")
