"""Would a dedicated WebGL scatter draw a million points fast enough here? regl-scatterplot, measured.

    python benchmarks/bench_regl_scatter.py                 # 1,000,000 points
    python benchmarks/bench_regl_scatter.py --points 100000

The prototype behind issue 28's choice to keep plotly: `npm pack` fetches regl-scatterplot
1.16.0 and its two peer dependencies (regl 2.1.1, pub-sub-es 3.0.0) from the npm registry into
a temporary folder; a bare page there draws `--points` points (a 10-class mixture made in the
page, so no server or network time counts) and headless Chromium, as bench_explore_scale.py
starts it (no GPU: WebGL in SwiftShader), is timed on:

1. the first draw (`scatterplot.draw` resolved), and the page ready from navigation;
2. hover: from the mouse moved onto a point to the library's `pointOver` event, median of 15;
3. zoom and pan: frames per second, each frame a new camera (`zoomToArea`, no transition)
   drawn to its `draw` event and `gl.finish()`.

regl-scatterplot builds its spatial index in a Web Worker from one million points up; that
worker never answered in this Chromium, so the index is built on the page
(`spatialIndexUseWorker: false`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PACKAGES = {"regl-scatterplot@1.16.0": "dist/regl-scatterplot.min.js", "regl@2.1.1": "dist/regl.min.js",
            "pub-sub-es@3.0.0": "dist/index.js"}

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>body{margin:0} #c{width:1000px;height:800px}</style>
<script src="pubsub.js"></script><script src="regl.min.js"></script><script src="regl-scatterplot.min.js"></script>
</head><body><canvas id="c"></canvas><script>
window.bench = { t0: performance.now(), hovered: [] };
(async () => {
  const n = Number(new URLSearchParams(location.search).get("n"));
  const x = new Float32Array(n), y = new Float32Array(n), z = new Uint8Array(n);
  let seed = 1; const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const cx = Array.from({length: 10}, () => rnd() * 1.4 - 0.7), cy = Array.from({length: 10}, () => rnd() * 1.4 - 0.7);
  const g = () => (rnd() + rnd() + rnd() - 1.5) * 0.15;
  for (let i = 0; i < n; i++) { x[i] = cx[i % 10] + g(); y[i] = cy[i % 10] + g(); z[i] = i % 10; }
  bench.tData = performance.now();
  const sp = createScatterplot.default({ canvas: document.getElementById("c"), width: 1000, height: 800,
    pointSize: 2, opacity: 0.7, spatialIndexUseWorker: false });
  window.sp = sp;
  sp.set({ colorBy: "valueA", pointColor: ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"] });
  sp.subscribe("pointOver", (i) => bench.hovered.push([i, performance.now()]));
  await sp.draw({ x, y, valueA: z });
  bench.tDraw = performance.now();
  bench.ready = true;
})().catch((e) => { window.bench.error = String(e.stack || e); });
</script></body></html>"""

FRAMES = """async () => {
  const c = document.getElementById('c'), gl = c.getContext('webgl') || c.getContext('webgl2');
  const once = () => new Promise((r) => { const h = () => { sp.unsubscribe('draw', h); r(); }; sp.subscribe('draw', h); });
  const out = {};
  for (const what of ['zoom', 'pan']) {
    const t0 = performance.now();
    for (let k = 0; k < 20; k++) {
      const w = what === 'zoom' ? 1.5 * Math.pow(0.9, k) : 0.8, cx = what === 'pan' ? -0.4 + 0.04 * k : 0;
      const done = once();
      sp.zoomToArea({ x: cx - w / 2, y: -w / 2, width: w, height: w }, { transition: false });
      await done;
      if (gl) gl.finish();
    }
    out[what] = 20 / ((performance.now() - t0) / 1000);
  }
  return out; }"""


def vendor(folder: Path) -> None:
    """The three packages' browser builds in `folder` (pub-sub-es's ESM made a global script)."""
    try:
        subprocess.run(["npm", "pack", "--silent", *PACKAGES], cwd=folder, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"npm pack {' '.join(PACKAGES)} failed ({exc}); this benchmark needs npm and its registry")
    for spec, member in PACKAGES.items():
        name, version = spec.rsplit("@", 1)
        with tarfile.open(folder / f"{name}-{version}.tgz") as tar:
            text = tar.extractfile(f"package/{member}").read().decode("utf-8")
        if name == "pub-sub-es":
            text = text.replace("export { globalPubSub, createPubSub };", "window.createPubSub = createPubSub;")
            text = text.replace("export default createPubSub;", "")
        (folder / Path(member).name.replace("index.js", "pubsub.js")).write_text(text, encoding="utf-8")
    (folder / "index.html").write_text(PAGE, encoding="utf-8")


def hover_ms(page, count: int = 15) -> list[float]:
    out = []
    for k in range(count):
        sx, sy = page.evaluate(f"sp.getScreenPosition({12345 + 37 * k})")
        page.mouse.move(sx - 30, sy - 30)
        page.wait_for_timeout(50)
        t0 = page.evaluate("performance.now()")
        page.mouse.move(sx, sy)
        try:
            page.wait_for_function(f"bench.hovered.length && bench.hovered[bench.hovered.length - 1][1] > {t0}",
                                   timeout=10_000)
        except Exception:           # no pointOver within 10 s: counted as missed
            continue
        out.append(page.evaluate("bench.hovered[bench.hovered.length - 1][1]") - t0)
    return out


def measure(port: int, n: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        t = time.perf_counter()
        page.goto(f"http://127.0.0.1:{port}/index.html?n={n}")
        page.wait_for_function("window.bench.ready || window.bench.error", timeout=600_000)
        wall = time.perf_counter() - t
        r = page.evaluate("({err: bench.error, data: bench.tData - bench.t0, draw: bench.tDraw - bench.tData})")
        if r["err"]:
            raise SystemExit(f"the page failed: {r['err']}")
        print(f"{n:,} points: ready {wall:.2f} s after navigation; points made {r['data']:.0f} ms, "
              f"first draw {r['draw']:.0f} ms")
        lat = hover_ms(page)
        if lat:
            print(f"hover to pointOver: median {statistics.median(lat):.0f} ms, max {max(lat):.0f} ms "
                  f"({len(lat)} of 15 answered)")
        fps = page.evaluate(FRAMES)
        print(f"frames per second (SwiftShader): zoom {fps['zoom']:.2f}, pan {fps['pan']:.2f}")
        browser.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--port", type=int, default=8931)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-regl-") as tmp:
        vendor(Path(tmp))
        server = subprocess.Popen([sys.executable, "-m", "http.server", str(args.port), "--bind", "127.0.0.1"],
                                  cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)
            measure(args.port, args.points)
        finally:
            server.terminate()
            server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
