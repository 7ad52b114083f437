"""`latentatlas explore RUN_DIR`: a live latent-space explorer in the browser.

    latentatlas explore runs/vae10
    latentatlas explore runs/vae10 --port 8765 --no-browser
    latentatlas explore runs/vae10 --views pca,umap
    latentatlas explore runs/vae10 --columns my-columns.csv

Serves a page on 127.0.0.1 (a random token in the printed URL is needed on
every request): the map of every point in each 2-D view, hover for the image,
click a point for its reconstruction, probe prediction and nearest neighbours,
click empty space to decode there, draw a path to decode a walk, sliders per
latent dimension, lasso selections with counts and a CSV export.

Views that `analyze` saved (maps.npz) are reused; missing ones are computed
once and saved. Ctrl-C stops the server.
"""

from __future__ import annotations

from . import HelpFormatter, add_device_option


def add_parser(sub):
    p = sub.add_parser("explore", help="serve a live page to explore a run's latent space and decode any point",
                       description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a trained and encoded run folder")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; anything but loopback makes the page reachable from other "
                        "machines (the token still guards it)")
    p.add_argument("--port", type=int, default=8765, help="port to listen on (0 picks a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the URL but do not open a browser")
    p.add_argument("--views", default="auto",
                   help="comma-separated 2-D views: auto (latent when 2-d, pca, lda, umap, and any saved), "
                        "or a choice of latent, pca, lda, umap, tsne")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="another Host header to accept (e.g. this machine's name when --host 0.0.0.0)")
    p.add_argument("--columns", metavar="CSV",
                   help="your own per-point columns to colour the map by: a CSV with a header, one row per "
                        "point (train then test, as latents.npz) or an `index` column naming each row's point")
    p.add_argument("--threads", type=int, default=1, help="torch threads for decoding")
    add_device_option(p, "the decoder")
    return p


def run(args) -> int:
    import sys

    from ..errors import UserError
    from ..explore.security import LOCAL_HOSTS, Policy
    from ..explore.server import serve
    from ..explore.state import ExploreState

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be in 0..65535, not {args.port}")
    if args.host.strip("[]") not in LOCAL_HOSTS:
        print(f"latentatlas explore: warning: listening on {args.host}, not loopback: other machines can "
              "reach this server (the token still guards every request)", file=sys.stderr)
    views = [v.strip() for v in args.views.split(",") if v.strip()]
    state = ExploreState.load(args.run_dir, views=views, threads=args.threads, device=args.device,
                              columns=args.columns)
    policy = Policy.for_host(args.host, args.allow_host)
    serve(state, args.host, args.port, policy, open_browser=not args.no_browser)
    return 0
