"""The explorer's web server: a Starlette app behind the `Guard` middleware, run by uvicorn.

    app = create_app(state, policy)          # an ASGI app (TestClient-friendly)
    serve(state, host, port, policy, open_browser)

Routes (all need the token; see security.py):

    GET  /                    the page              GET  /static/<name>   its assets (a fixed list)
    GET  /api/meta            views, classes, colourings, sliders, limits
    GET  /api/points?view=V   coordinates, labels and colour arrays of one view
    GET  /api/image/<i>       PNG of point i        GET  /api/point/<i>   image, reconstruction,
                                                                          probe, neighbours
    POST /api/decode          {code} or {view, x, y[, rule]}
    POST /api/walk            {view, path, steps} or {a, b, steps}
    POST /api/traverse        {index or code, dim or direction, values}
    POST /api/select          {indices}             POST /api/select.csv  the same, as CSV

Static files come from a dict built at start, so no client-given path is ever
opened. Client mistakes answer 4xx with {"error": "..."}; anything unexpected
answers 500 with one line and is logged here, never sent as a traceback.
"""

from __future__ import annotations

import logging
from importlib import resources

from . import api
from .security import Guard, Policy, RequestError, read_json_body

log = logging.getLogger("latentatlas.explore")

STATIC = {"index.html": "text/html; charset=utf-8", "explore.js": "text/javascript; charset=utf-8",
          "explore.css": "text/css; charset=utf-8"}


def static_files() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, media type): the page's files and plotly.js from the installed plotly."""
    from plotly.offline import get_plotlyjs

    folder = resources.files("latentatlas.explore") / "static"
    files = {name: ((folder / name).read_bytes(), mime) for name, mime in STATIC.items()}
    files["plotly.min.js"] = (get_plotlyjs().encode("utf-8"), "text/javascript; charset=utf-8")
    return files


HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff"}


def create_app(state, policy: Policy):
    """The ASGI app: routes wrapped in the Host/token/size guard."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse

    async def http_error(request, exc):  # unknown route (404), wrong method (405): JSON, like the rest
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=HEADERS)

    app = Starlette(routes=_routes(state, policy, static_files()), exception_handlers={HTTPException: http_error})
    return Guard(app, policy)


def _guarded(work, max_body: int, needs_body: bool = False):
    """An endpoint that runs `work(request, body)` in a thread and turns errors into short JSON."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response

    async def endpoint(request):
        try:
            body = await read_json_body(request, max_body) if needs_body else None
            result = await run_in_threadpool(work, request, body)
            return result if isinstance(result, Response) else JSONResponse(result, headers=HEADERS)
        except RequestError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status, headers=HEADERS)
        except Exception:  # a bug, not the client's fault: log it here, one line to the client
            log.exception("explore: %s %s failed", request.method, request.url.path)
            return JSONResponse({"error": "internal error (logged by the server)"}, status_code=500,
                                headers=HEADERS)
    return endpoint


def _routes(state, policy: Policy, files: dict) -> list:
    """Every route of the explorer (module docstring), each guarded."""
    from starlette.responses import Response
    from starlette.routing import Route

    limits = policy.limits

    def page(request, _):
        name = request.path_params.get("name", "index.html")
        if name not in files:
            raise RequestError(404, "no such file")
        data, mime = files[name]
        return Response(data, media_type=mime, headers={**HEADERS, "content-security-policy": _CSP}
                        if name == "index.html" else HEADERS)

    def image(request, _):
        return Response(api.image(state, request.path_params["index"]), media_type="image/png",
                        headers={"cache-control": "private, max-age=3600"})

    def csv(request, body):
        return Response(api.selection_csv(state, body), media_type="text/csv",
                        headers={**HEADERS, "content-disposition": 'attachment; filename="selection.csv"'})

    def get(path, work):
        return Route(path, _guarded(work, limits.max_body))

    def post(path, work):
        return Route(path, _guarded(work, limits.max_body, True), methods=["POST"])

    return [
        get("/", page), get("/static/{name}", page),
        get("/api/meta", lambda r, b: api.meta(state, limits)),
        get("/api/points", lambda r, b: api.points(state, r.query_params.get("view"))),
        get("/api/image/{index}", image),
        get("/api/point/{index}", lambda r, b: api.point(state, r.path_params["index"], r.query_params.get("k"))),
        post("/api/decode", lambda r, b: api.decode(state, b)),
        post("/api/walk", lambda r, b: api.walk(state, b, limits)),
        post("/api/traverse", lambda r, b: api.traverse(state, b, limits)),
        post("/api/select", lambda r, b: api.selection(state, b)),
        post("/api/select.csv", csv),
    ]


# The page loads only from this server: no CDN, no inline script from elsewhere.
_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'unsafe-eval'; connect-src 'self'; frame-ancestors 'self' http://localhost:* "
        "http://127.0.0.1:*")


def url_for(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def serve(state, host: str, port: int, policy: Policy, open_browser: bool = True, on_ready=None) -> None:
    """Run until Ctrl-C. Binds first, so that port 0 resolves to a free port before the URL prints."""
    import socket

    import uvicorn

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
    port = sock.getsockname()[1]
    url = url_for(host, port, policy.token)
    config = uvicorn.Config(create_app(state, policy), log_level="warning", access_log=False,
                            timeout_graceful_shutdown=2, backlog=256)
    server = uvicorn.Server(config)
    print(f"latentatlas explore: serving {state.run.path} at\n    {url}\n(Ctrl-C stops it)", flush=True)
    if on_ready:
        on_ready(url)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:   # uvicorn shuts down on Ctrl-C, then re-raises the signal it caught
        pass
    print("latentatlas explore: stopped", flush=True)

