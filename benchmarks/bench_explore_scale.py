"""The explorer on a million points, in headless Chromium: first paint, hover, pan and zoom, memory.

    python benchmarks/bench_explore_scale.py                       # 1,000,000 points, 16-d codes
    python benchmarks/bench_explore_scale.py --points 100000 --latent-dim 8

What runs: a tiny model is trained on mnist-sample (1 epoch, 1,000 images: only its decoder
matters); the server process (`--serve`, its own process as a user runs it) loads that run,
then replaces its codes with `--points` synthetic ones (a 10-class Gaussian mixture), tiles the
run's real images to as many (a real copy: the memory a real run of that size holds), and
takes a precomputed map (a fixed linear projection of the codes, as a saved UMAP would come:
nothing is fitted but the neighbour trees every run builds), then serves it. The browser is
started first, as a user's is open; the clock starts when the server prints its URL.

Printed:
1. the time from the URL printed to the page usable (meta, packed points, map drawn: the
   page's own `explore.ready`), and the bytes of /api/points on the wire;
2. hover: the median and p90 time from the mouse reaching a point to its image shown in the
   tooltip, over `--hovers` points (the issue's goal: 50 ms);
3. pan and zoom: frames per second, each frame a change of the axes' range drawn to the end
   (Plotly.relayout, then gl.finish() on the map's WebGL canvases);
4. zoomed in: the time to draw up to 300 points as their images (sprites.js); the time to
   colour the map by a latent dimension (one /api/field column, then the map drawn again);
5. the server's memory: resident now and its peak (VmHWM), goal 1.5 GB.

Chromium here has no GPU (--disable-gpu: WebGL through SwiftShader, on the CPU), so frame rates
are a floor; a machine with a GPU draws faster.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def synthetic_state(run_dir, n: int, seed: int = 0):
    """The run's state with n synthetic codes, tiled real images and a precomputed map."""
    import numpy as np

    from latentatlas.explore.state import ExploreState

    state = ExploreState.load(run_dir, views=["pca"], progress=False)
    d, k = state.latent_dim, len(state.class_names)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    centres = rng.normal(0, 2.0, (k, d)).astype(np.float32)
    codes = centres[labels] + rng.normal(0, 0.6, (n, d)).astype(np.float32)
    images = state.images[np.arange(n) % len(state.images)]        # a real (n, H, W) copy
    state.codes, state.labels, state.images, state.n_train, state.logvar = codes, labels, images, int(0.9 * n), None
    state.factors = {}
    state.colourings = {"class": labels, "cluster": (labels + rng.integers(0, 2, n)) % k, "probe_pred": labels.copy()}
    state.colourings["probe_pred"][rng.random(n) < 0.05] = 0
    state.views.clear()
    projection = rng.normal(0, 1, (d, 2)).astype(np.float32)
    state._add_view("umap", codes @ projection, np.arange(n), "precomputed (benchmark)")
    state._neighbours()
    state.__dict__.pop("code_limit", None)
    state.sliders = state._slider_basis()
    return state


def serve(run_dir, n: int) -> None:
    from latentatlas.explore.security import Policy
    from latentatlas.explore.server import serve as serve_state

    t0 = time.perf_counter()
    state = synthetic_state(run_dir, n)
    print(f"server: {n:,} points ready in {time.perf_counter() - t0:.1f} s", flush=True)
    serve_state(state, "127.0.0.1", 0, Policy.for_host("127.0.0.1"), open_browser=False)


def tiny_run(latent_dim: int) -> Path:
    from latentatlas.cli import main as cli_main

    run = Path(tempfile.mkdtemp(prefix="bench-explore-scale-")) / "run"
    assert cli_main(["train", "--dataset", "mnist-sample", "--epochs", "1", "--max-train-images", "1000",
                     "--latent-dim", str(latent_dim), "--threads", "1", "--out", str(run)]) == 0
    assert cli_main(["encode", str(run)]) == 0
    return run


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident MB now, peak resident MB) of a process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


# One frame = one change of the axes' range drawn to the end: Plotly.relayout, then gl.finish() on
# every WebGL canvas of the map, which returns only when the GPU (here SwiftShader) has drawn it.
# (requestAnimationFrame counts would say 60: the drawing happens in the GPU process, not the page's.)
FRAMES = """async ([kind, n]) => { const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis.range.slice(),
        ya = gd._fullLayout.yaxis.range.slice(), w = xa[1] - xa[0], h = ya[1] - ya[0];
    const gls = [...gd.querySelectorAll('canvas')].map((c) => c.getContext('webgl', {}) || c.getContext('webgl2', {}))
        .filter(Boolean);
    const t0 = performance.now();
    for (let k = 1; k <= n; k++) {
        const f = kind === 'pan' ? 0.02 * k : 1 - 0.4 * k / n, dx = kind === 'pan' ? f * w : (1 - f) * w / 2,
              dy = kind === 'pan' ? 0 : (1 - f) * h / 2;
        await Plotly.relayout(gd, kind === 'pan' ? {'xaxis.range': [xa[0] + dx, xa[1] + dx]}
                                                 : {'xaxis.range': [xa[0] + dx, xa[1] - dx], 'yaxis.range': [ya[0] + dy, ya[1] - dy]});
        gls.forEach((gl) => gl.finish());
    }
    const s = (performance.now() - t0) / 1000;
    await Plotly.relayout(gd, {'xaxis.range': xa, 'yaxis.range': ya});
    return n / s; }"""


def plot_box(page):
    return page.evaluate("""() => { const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis,
        ya = gd._fullLayout.yaxis, b = gd.getBoundingClientRect();
        return [b.left + xa._offset, b.top + ya._offset, xa._length, ya._length]; }""")


def hover_times(page, count: int, seed: int = 1) -> list[float]:
    """Seconds from the mouse on a point to its image shown, for `count` random points."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = page.evaluate("window.explore.points.n")
    out = []
    for row in rng.choice(n, count, replace=False):
        sx, sy = page.evaluate("""([row]) => { const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis,
            ya = gd._fullLayout.yaxis, b = gd.getBoundingClientRect(), p = window.explore.points;
            return [b.left + xa._offset + xa.d2p(p.x[row]), b.top + ya._offset + ya.d2p(p.y[row])]; }""", [int(row)])
        before = page.get_attribute("#tooltip-image", "src") or ""
        page.mouse.move(sx + 40, sy + 40)
        t0 = time.perf_counter()
        page.mouse.move(sx, sy)
        page.wait_for_function("""([before]) => { const im = document.getElementById('tooltip-image');
            return !document.getElementById('tooltip').hidden && im.src !== before && im.complete && im.naturalWidth > 0; }""",
                               arg=[before], timeout=30_000, polling="raf")
        out.append(time.perf_counter() - t0)
    return out


def pan_and_zoom_fps(page, frames: int = 10) -> tuple[float, float]:
    """(frames per second of a pan, of a zoom): `frames` range changes, each drawn to the end."""
    page.mouse.move(5, 5)                           # no hover in the way
    return page.evaluate(FRAMES, ["pan", frames]), page.evaluate(FRAMES, ["zoom", frames])


# Zoom onto one point until at most 300 points are in view, then time the images drawn in place of
# the dots (sprites.js: one /api/sprites atlas, drawn on a canvas) from the range change on.
SPRITES = """async () => { const p = window.explore.points, gd = document.getElementById('map');
    const xr = gd._fullLayout.xaxis.range, yr = gd._fullLayout.yaxis.range, x = p.x[0], y = p.y[0];
    let f = 0.05, count = Infinity, box;
    while (count > 300) {
        box = [[x - f * (xr[1] - xr[0]), x + f * (xr[1] - xr[0])], [y - f * (yr[1] - yr[0]), y + f * (yr[1] - yr[0])]];
        count = 0;
        for (let i = 0; i < p.n; i++) if (p.x[i] >= box[0][0] && p.x[i] <= box[0][1] && p.y[i] >= box[1][0] && p.y[i] <= box[1][1]) count++;
        f /= 2;
    }
    const t0 = performance.now();
    await Plotly.relayout(gd, {'xaxis.range': box[0], 'yaxis.range': box[1]});
    while (window.explore.sprites.drawn !== count) await new Promise((r) => setTimeout(r, 5));
    const ms = performance.now() - t0;
    await Plotly.relayout(gd, {'xaxis.autorange': true, 'yaxis.autorange': true});
    return [count, ms]; }"""

# Colour by one latent dimension: /api/field's column fetched, then the map drawn again.
COLOUR = """async () => { const t0 = performance.now(); await setColour('z0');
    const ms = performance.now() - t0; await setColour('class'); return ms; }"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--latent-dim", type=int, default=16)
    ap.add_argument("--hovers", type=int, default=20)
    ap.add_argument("--run", help="a trained run to take the decoder from (default: train a tiny one)")
    ap.add_argument("--serve", help=argparse.SUPPRESS)       # the server process
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve, args.points)
        return 0
    from playwright.sync_api import sync_playwright

    run = Path(args.run) if args.run else tiny_run(args.latent_dim)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen([sys.executable, __file__, "--serve", str(run), "--points", str(args.points)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            return measure(proc, page, args, errors)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            browser.close()


def measure(proc, page, args, errors) -> int:
    url = None
    for line in proc.stdout:
        if line.startswith("server:"):
            print(line.strip())
        m = re.search(r"(http://127\.0\.0\.1:\d+/\?token=[\w-]+)", line)
        if m:
            url = m.group(1)
            break
    if url is None:
        raise SystemExit(f"the server did not start (exit {proc.wait()})")
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function("window.explore && window.explore.ready", timeout=300_000, polling=50)
    ready = time.perf_counter() - t0
    size = page.evaluate("performance.getEntriesByType('resource').filter(e => e.name.includes('api/points'))"
                         ".map(e => [e.transferSize, e.duration])[0]")
    print(f"page usable {ready:.2f} s after the URL printed (goal 5 s); /api/points {size[0] / 1e6:.1f} MB "
          f"in {size[1] / 1000:.2f} s; {page.evaluate('window.explore.mapPointCount()'):,} points drawn")
    print(f"  where the page's time went (ms): {page.evaluate('window.explore.timings')}")
    t = hover_times(page, args.hovers)
    print(f"hover to image shown: median {1000 * statistics.median(t):.0f} ms, p90 "
          f"{1000 * sorted(t)[int(0.9 * (len(t) - 1))]:.0f} ms over {len(t)} points (goal 50 ms)")
    pan, zoom = pan_and_zoom_fps(page)
    print(f"frames per second in headless Chromium (no GPU: WebGL in SwiftShader): pan {pan:.2f}, zoom {zoom:.2f}")
    count, ms = page.evaluate(SPRITES)
    print(f"zoomed in: {count} images drawn in place of their dots {ms:.0f} ms after the range changed")
    print(f"colour by z0 (one /api/field column, map drawn again): {page.evaluate(COLOUR):.0f} ms")
    rss, peak = memory_mb(proc.pid)
    print(f"server memory: {rss:.0f} MB resident, peak {peak:.0f} MB (goal 1,536 MB)")
    if errors:
        print(f"page errors: {errors[:3]}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
