"""How fast `latentatlas explore` decodes, over real loopback HTTP.

    python benchmarks/bench_explore.py RUN_DIR [--views pca] [--requests 2000] [--clients 16]

Starts the real server (`latentatlas explore`, its own process, a free 127.0.0.1 port)
and prints:

1. one client, one 28x28 decode per request, sequentially: the median (and p90)
   latency from request to decoded PNG, both for a code given by the client and
   for a place on a 2-D view (inverse rule + decode); the issue's target is a
   median of at most 30 ms;
2. `--requests` decode requests from `--clients` concurrent clients (threads,
   each with its own keep-alive http.client connection): how many were answered
   with 200 (none may be lost), the median and 99th-percentile latency and the
   throughput.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def start_server(run_dir, views):
    """`latentatlas explore` in its own process (as a user runs it; a server thread in this
    process would share the GIL with the clients and measure that instead); (process, port, token)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "latentatlas", "explore", str(run_dir), "--port", "0",
                             "--no-browser", "--views", views], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    for line in proc.stdout:
        m = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]+)", line)
        if m:
            return proc, int(m.group(1)), m.group(2)
    raise SystemExit(f"the server did not start (exit code {proc.wait()})")


def get_bytes(port, token, path) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"X-Explore-Token": token})
    return conn.getresponse().read()


def get_json(port, token, path):
    return json.loads(get_bytes(port, token, path))


class Client:
    """One keep-alive connection that POSTs JSON and times each answer."""

    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json", "X-Explore-Token": token}

    def post(self, path: str, body: dict) -> tuple[int, float, bytes]:
        data = json.dumps(body)
        t0 = time.perf_counter()
        try:
            self.conn.request("POST", path, data, self.headers)
            resp = self.conn.getresponse()
            payload = resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException):     # count it as lost, reconnect for the next one
            self.conn.close()
            return 0, time.perf_counter() - t0, b""
        return status, time.perf_counter() - t0, payload


def percentile(values, q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def sequential(port, token, bodies, n) -> list[float]:
    client = Client(port, token)
    for b in bodies[:10]:                                  # warm-up: first decode, first kneighbors
        client.post("/api/decode", b)
    times = []
    for i in range(n):
        status, dt, payload = client.post("/api/decode", bodies[i % len(bodies)])
        if status != 200 or b'"image":"data:image/png;base64,' not in payload:
            raise SystemExit(f"decode failed: {status} {payload[:200]!r}")
        times.append(dt)
    return times


def concurrent(port, token, bodies, n_requests, n_clients):
    clients = [Client(port, token) for _ in range(n_clients)]
    per_client = [list(range(c, n_requests, n_clients)) for c in range(n_clients)]

    def run(c):
        out = []
        for i in per_client[c]:
            status, dt, payload = clients[c].post("/api/decode", bodies[i % len(bodies)])
            out.append((status, dt, len(payload)))
        return out

    t0 = time.perf_counter()
    with ThreadPoolExecutor(n_clients) as pool:
        results = [r for rs in pool.map(run, range(n_clients)) for r in rs]
    return results, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--views", default="pca", help="views to load (pca is instant)")
    ap.add_argument("--sequential", type=int, default=300, help="sequential requests per kind")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=16)
    args = ap.parse_args(argv)

    import numpy as np

    proc, port, token = start_server(args.run_dir, args.views)
    meta = get_json(port, token, "/api/meta")
    view = meta["views"][0]["name"]
    from latentatlas.explore.packing import unpack

    _, pts = unpack(get_bytes(port, token, f"/api/points?view={view}"))     # packed typed arrays
    xy = np.column_stack([pts["x"], pts["y"]])
    rng = np.random.default_rng(0)
    at_xy = [{"view": view, "x": float(x), "y": float(y)} for x, y in rng.uniform(xy.min(0), xy.max(0), (500, 2))]
    d = meta["latent_dim"]
    codes = [{"code": c.tolist()} for c in rng.normal(0, 1, (500, d))]
    h, w = meta["image_size"]
    print(f"run {args.run_dir}: {meta['kind']}, {d}-d latent, {h}x{w} images, {meta['n_points']:,} points; "
          f"server (its own process, 1 torch thread) on 127.0.0.1:{port}")

    for name, bodies in (("code", codes), (f"{view} x,y", at_xy)):
        t = sequential(port, token, bodies, args.sequential)
        print(f"one client, decode by {name:10s}: median {1000 * statistics.median(t):6.2f} ms, "
              f"p90 {1000 * percentile(t, 90):6.2f} ms over {len(t)} requests (target: median <= 30 ms)")

    results, wall = concurrent(port, token, at_xy + codes, args.requests, args.clients)
    ok = [dt for status, dt, size in results if status == 200 and size > 0]
    lost = len(results) - len(ok)
    print(f"{args.requests} decodes from {args.clients} concurrent clients: {len(ok)} answered 200, {lost} lost; "
          f"median {1000 * statistics.median(ok):.2f} ms, p99 {1000 * percentile(ok, 99):.2f} ms, "
          f"{len(ok) / wall:.0f} requests/s")
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    return 1 if lost or len(results) != args.requests else 0


if __name__ == "__main__":
    sys.exit(main())
