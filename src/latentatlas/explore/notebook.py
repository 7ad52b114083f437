"""The explorer inside a Jupyter notebook: an iframe to a server, as TensorBoard's extension does.

    from latentatlas.explore.notebook import explore_inline, iframe
    explore_inline("runs/vae10")                 # start a server in this kernel, show the page
    iframe("http://127.0.0.1:8765/?token=...")   # or show a server started with `latentatlas explore`
"""

from __future__ import annotations

import socket
import threading
import time


def iframe(url: str, width: str = "100%", height: int = 800):
    """An IPython IFrame showing the explorer at `url` (the URL the server printed, token included)."""
    from IPython.display import IFrame

    return IFrame(url, width=width, height=height)


def explore_inline(run_dir, views=("auto",), port: int = 0, height: int = 800, threads: int = 1, columns=None):
    """Load the run, serve it on 127.0.0.1 from a daemon thread of this kernel, return the IFrame.
    `columns`: a CSV of your own per-point columns to colour by (as `explore --columns`).

    The server lives as long as the kernel; its `.server` attribute stops it (`.server.should_exit = True`)."""
    import uvicorn

    from .security import Policy
    from .server import create_app, url_for, uvicorn_config
    from .state import ExploreState

    state = ExploreState.load(run_dir, views=list(views), threads=threads, columns=columns)
    policy = Policy.for_host("127.0.0.1")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", port))
    sock.listen(256)
    server = uvicorn.Server(uvicorn_config(create_app(state, policy), policy))
    server.install_signal_handlers = lambda: None      # not the main thread; the kernel owns Ctrl-C
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    frame = iframe(url_for("127.0.0.1", sock.getsockname()[1], policy.token), height=height)
    frame.server = server
    return frame
