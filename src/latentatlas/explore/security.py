"""What keeps the explorer a private, local server (the rules Jupyter's server follows).

- a random token made at start (`secrets.token_urlsafe`), required on every request: as
  `?token=`, as the header `X-Explore-Token` (or `Authorization: token ...`), or as the
  cookie the first page load sets (HttpOnly, SameSite=Strict);
- the Host header checked against an allow-list, so that a web page on another origin
  cannot reach the server through DNS rebinding;
- a POST from a browser must come from this server's own page: its Origin header, when it
  has one, names the Host it was sent to (a page of any other local web app is refused), and
  its body must be JSON (`Content-Type: application/json`, else 415), which no HTML form can send;
- the cookie is named after the server's port, so that two explorers (or any other local
  app) on one machine never overwrite or read each other's;
- every request bounded: path length, query length, body size and the time to send it;
  JSON bodies are parsed here, with the bounds enforced while the body streams in.

`Guard` is plain ASGI middleware; it answers refusals itself with a short JSON line.
"""

from __future__ import annotations

import hmac
import json
import secrets
from urllib.parse import urlsplit
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

COOKIE = "latentatlas_explore"      # + "_<port>" (cookie_name)
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
    body_seconds: float = 30.0       # to send a whole request body (a client trickling bytes is cut off)


@dataclass(frozen=True)
class Bounds:
    """Bounds on slow clients and costly work (bounds.py enforces them)."""
    connections: int = 64          # open at once; a browser opens about 6
    header_seconds: float = 10.0   # to send a request head
    idle_seconds: float = 5.0      # a keep-alive connection with no request
    decodes: int = 32              # requests that decode, queued or running
    umap_decodes: int = 2          # of which umap inverse_transform ones (seconds each)


@dataclass
class Policy:
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    allowed_hosts: frozenset = LOCAL_HOSTS
    limits: Limits = field(default_factory=Limits)
    bounds: Bounds = field(default_factory=Bounds)

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


def cookie_name(scope) -> str:
    """The token cookie's name on this server: one per port, as Jupyter names its cookie after
    the host and port (cookies are shared by every port of a host; their names are not)."""
    server = scope.get("server") or ()
    return f"{COOKIE}_{server[1]}" if len(server) > 1 and server[1] else COOKIE


def presented_token(scope) -> tuple[str, bool]:
    """(the token the request carries, whether it came in the query string). An empty header
    or query value counts as none, so that it never hides a valid cookie."""
    headers = _headers(scope)
    if headers.get(TOKEN_HEADER, b"").strip():
        return headers[TOKEN_HEADER].decode("latin-1").strip(), False
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("token ") and auth[6:].strip():
        return auth[6:].strip(), False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0], True
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
    except CookieError:  # a malformed cookie header is simply no token
        return "", False
    name = cookie_name(scope)
    return (cookie[name].value if name in cookie else ""), False


def foreign_origin(scope, headers) -> bool:
    """A state-changing request (not GET/HEAD) sent by a page of another origin. No Origin
    header (curl, scripts) passes, as in Jupyter; "null" (a sandboxed or file:// page) does not."""
    if scope.get("method") in ("GET", "HEAD") or b"origin" not in headers:
        return False
    origin = headers[b"origin"].decode("latin-1").strip().lower()
    parts = urlsplit(origin)
    host = headers.get(b"host", b"").decode("latin-1").strip().lower()
    return parts.scheme not in ("http", "https") or not parts.netloc or parts.netloc != host


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
        if foreign_origin(scope, headers):
            return 403, "cross-origin request refused: the Origin header does not name this server"
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
        cookie = (f"{cookie_name(scope)}={token}; HttpOnly; SameSite=Strict; Path=/").encode()

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), (b"set-cookie", cookie)])
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def read_json_body(request, max_body: int, seconds: float = 30.0) -> dict:
    """The request's JSON object, read with the size and time bounds enforced as it streams in."""
    import anyio

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise RequestError(415, "send the body as JSON (Content-Type: application/json)")
    chunks, size = [], 0
    try:
        with anyio.fail_after(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body:
                    raise RequestError(413, f"request body over {max_body} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestError(408, f"the request body took over {seconds:g} s to arrive") from None
    try:
        body = json.loads(b"".join(chunks) or b"null", parse_constant=_no_constants)
    except RecursionError:                  # not a ValueError: "[[[[...]]]]" nested thousands deep
        raise RequestError(400, "body is not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise RequestError(400, f"body is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(body, dict):
        raise RequestError(400, "body must be a JSON object")
    return body


def _no_constants(name: str):
    """JSON has no NaN/Infinity; Python's parser accepts them unless told not to."""
    raise ValueError(f"{name} is not a number")
