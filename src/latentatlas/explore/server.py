"""The explorer's web server: a Starlette app behind the `Guard` middleware, run by uvicorn.

    app = create_app(state, policy)          # an ASGI app (TestClient-friendly)
    serve(state, host, port, policy, open_browser)

Routes (all need the token; see security.py):

    GET  /                    the page              GET  /static/<name>   its assets (assets.py)
    GET  /api/meta            views, classes, colourings, sliders, limits
    GET  /api/points?view=V   coordinates, labels and colour arrays of one view, as packed
                              typed arrays (packing.py), not JSON
    GET  /api/field?view=V&name=F   one per-point field (fields.py), packed the same way
    POST /api/sprites         {indices} -> one PNG atlas of their images (sprites.py)
    GET  /api/image/<i>       PNG of point i        GET  /api/point/<i>   image, reconstruction,
                                                                          probe, neighbours
    POST /api/decode          {code} or {view, x, y[, rule]}
    POST /api/walk            {view, path, steps} or {a, b, steps}
    POST /api/traverse        {index or code, dim or direction, values}
    POST /api/select          {indices}             POST /api/select.csv  the same, as CSV

Static files come from a dict built at start, so no client-given path is ever
opened. Client mistakes answer 4xx with {"error": "..."}; a full work queue 503
(bounds.py); anything unexpected answers 500 with one line and is logged here,
never sent as a traceback.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack

from . import api
from .assets import Assets
from .bounds import WorkQueue, protocol_with
from .security import Policy, RequestError, read_json_body

log = logging.getLogger("latentatlas.explore")

HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff"}


def create_app(state, policy: Policy):
    """The ASGI app: routes wrapped in the Host/token/Origin/size guard."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse

    from .security import Guard

    async def http_error(request, exc):  # unknown route (404), wrong method (405): JSON, like the rest
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=HEADERS)

    app = Starlette(routes=_routes(state, policy, Assets.build()), exception_handlers={HTTPException: http_error})
    return Guard(app, policy)


def _guarded(work, policy: Policy, needs_body: bool = False, queues=None):
    """An endpoint that runs `work(request, body)` in a thread and turns errors into short JSON.
    `queues(body)` names the WorkQueues the request needs a slot in (refused 503 when full)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect
    from starlette.responses import JSONResponse, Response

    limits = policy.limits

    async def endpoint(request):
        try:
            body = await read_json_body(request, limits.max_body, limits.body_seconds) if needs_body else None
            with ExitStack() as stack:
                for queue in (queues(body) if queues else ()):
                    stack.enter_context(queue.slot())
                result = await run_in_threadpool(work, request, body)
            if isinstance(result, bytes):
                return Response(result, media_type="application/octet-stream", headers=HEADERS)
            return result if isinstance(result, Response) else JSONResponse(result, headers=HEADERS)
        except RequestError as exc:
            extra = {"retry-after": "5"} if exc.status == 503 else {}
            return JSONResponse({"error": exc.message}, status_code=exc.status, headers={**HEADERS, **extra})
        except ClientDisconnect:          # nobody is left to answer
            return Response(status_code=400)
        except Exception:  # a bug, not the client's fault: log it here, one line to the client
            log.exception("explore: %s %s failed", request.method, request.url.path)
            return JSONResponse({"error": "internal error (logged by the server)"}, status_code=500,
                                headers=HEADERS)
    return endpoint


def _routes(state, policy: Policy, assets: Assets) -> list:
    """Every route of the explorer (module docstring), each guarded."""
    from starlette.responses import Response
    from starlette.routing import Route

    limits, bounds = policy.limits, policy.bounds
    decodes = WorkQueue("decode requests", bounds.decodes)
    umaps = WorkQueue("umap decodes (seconds each)", bounds.umap_decodes)

    def decoding(body):           # every request that runs the decoder; umap's inverse also in its own
        return (decodes, umaps) if isinstance(body, dict) and body.get("rule") == "umap" else (decodes,)

    def page(request, _):
        name = request.path_params.get("name", "index.html")
        extra = {**HEADERS, "content-security-policy": _CSP} if name == "index.html" else HEADERS
        answer = assets.response(name, request.headers.get("accept-encoding", ""), extra)
        if answer is None:
            raise RequestError(404, "no such file")
        return answer

    def image(request, _):
        return Response(api.image(state, request.path_params["index"]), media_type="image/png",
                        headers={"cache-control": "private, max-age=3600"})

    fields = WorkQueue("per-point field computations", 2)        # a first recon_error decodes every code

    def png(request, body):
        return Response(api.sprites(state, body), media_type="image/png", headers=HEADERS)

    def csv(request, body):
        return Response(api.selection_csv(state, body), media_type="text/csv",
                        headers={**HEADERS, "content-disposition": 'attachment; filename="selection.csv"'})

    def get(path, work, queues=None):
        return Route(path, _guarded(work, policy, queues=queues))

    def post(path, work, queues=decoding):
        return Route(path, _guarded(work, policy, True, queues), methods=["POST"])

    return [
        get("/", page), get("/static/{name}", page),
        get("/api/meta", lambda r, b: api.meta(state, limits)),
        get("/api/points", lambda r, b: api.points(state, r.query_params.get("view"))),
        get("/api/field", lambda r, b: api.field(state, r.query_params.get("view"), r.query_params.get("name")),
            lambda b: (fields,)),
        get("/api/image/{index}", image),
        get("/api/point/{index}", lambda r, b: api.point(state, r.path_params["index"], r.query_params.get("k")),
            decoding),
        post("/api/decode", lambda r, b: api.decode(state, b)),
        post("/api/walk", lambda r, b: api.walk(state, b, limits)),
        post("/api/traverse", lambda r, b: api.traverse(state, b, limits)),
        post("/api/select", lambda r, b: api.selection(state, b)),
        post("/api/select.csv", csv, None),
        post("/api/sprites", png, None),
    ]


# The page loads only from this server: no CDN, no inline script from elsewhere.
_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'unsafe-eval'; connect-src 'self'; frame-ancestors 'self' http://localhost:* "
        "http://127.0.0.1:*")


def url_for(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def uvicorn_config(app, policy: Policy, **kw):
    """uvicorn's settings for the explorer: quiet, and bounded (bounds.py) against slow clients."""
    import uvicorn

    b = policy.bounds
    return uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                          limit_concurrency=b.connections, timeout_keep_alive=b.idle_seconds,
                          http=protocol_with(b.header_seconds), ws="none", lifespan="off", **kw)


class Stopped(Exception):
    """SIGTERM (a service manager, a notebook's kill, `kill PID`): stop as Ctrl-C does."""


def _stop(signum, frame):
    raise Stopped


def serve(state, host: str, port: int, policy: Policy, open_browser: bool = True, on_ready=None) -> None:
    """Run until Ctrl-C or SIGTERM, then print "stopped" (exit 0). Binds first, so that port 0
    resolves to a free port before the URL prints."""
    import signal

    import uvicorn

    sock = _listen(host, port)
    url = url_for(host, sock.getsockname()[1], policy.token)
    server = uvicorn.Server(uvicorn_config(create_app(state, policy), policy, backlog=256))
    # uvicorn catches SIGINT/SIGTERM, shuts down, then raises the signal again under the handler it
    # found: for SIGTERM the default one (exit 143, no word). Ours turns it into Stopped.
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        print(f"latentatlas explore: serving {state.run.path} at\n    {url}\n(Ctrl-C stops it)", flush=True)
        if on_ready:
            on_ready(url)
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        server.run(sockets=[sock])
    except (KeyboardInterrupt, Stopped):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("latentatlas explore: stopped", flush=True)


def _listen(host: str, port: int):
    """A listening TCP socket on host:port (port 0: a free one), or one UserError line."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
    # they are TCP; without it every keep-alive answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(256)        # listening now: connections queue until uvicorn accepts them
    except OSError as exc:
        sock.close()
        from ..errors import UserError

        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port "
                        "(0 picks a free one)") from None
    return sock
