"""Reading a folder of camera-sized JPEGs: the first read (decode on every core, draft) and the second
(the cache). Prints the figures the image-folder issue targets (10,000 photos of 12 megapixels to
64x64: at most 60 s, then at most 3 s).

    python benchmarks/bench_images.py --n 10000 --distinct 100 --dir /tmp/la-photos

The photos are generated: a smooth colour field with mid-frequency texture and sensor-like noise,
so that a 4000x3000 JPEG at quality 90 weighs about 3 MB, as a phone's does. `--distinct` of them
are encoded; the N files are hard links to them spread over 10 class folders (N real copies would
be 30 GB of disk for 10,000). Every file is decoded in full either way (the cache keys each path);
only the disk reads differ: a hard link's bytes are in the page cache once read, as a folder
smaller than memory is on its second read. The cache goes to a fresh folder, so the first read
decodes everything. Each read runs in a fresh process (no state carried between them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 4000, 3000
CLASSES = 10


def photo(rng, texture: np.ndarray):
    """A photo-like 12-megapixel RGB picture (PIL image)."""
    from PIL import Image

    field = Image.fromarray(rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)).resize((WIDTH, HEIGHT),
                                                                                    Image.Resampling.BICUBIC)
    shift = tuple(int(s) for s in rng.integers(0, 1000, 2))
    a = np.asarray(field, dtype=np.int16) * 3 // 4 + np.roll(texture, shift, axis=(0, 1))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def make_folder(root: Path, n: int, distinct: int, seed: int = 0) -> float:
    """root/<class>/<i>.jpg, n files linked to `distinct` photos; returns their mean size in MB."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    mid = Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)).resize((WIDTH, HEIGHT),
                                                                                      Image.Resampling.BILINEAR)
    texture = (np.asarray(mid, dtype=np.int16) // 4 + rng.integers(-6, 7, (HEIGHT, WIDTH, 1), dtype=np.int16))
    sources = root / ".sources"          # hidden: the reader ignores it
    sources.mkdir(parents=True, exist_ok=True)
    for k in range(distinct):
        if not (sources / f"{k}.jpg").is_file():
            photo(rng, texture).save(sources / f"{k}.jpg", quality=90)
    for c in range(CLASSES):
        (root / f"class {c}").mkdir(exist_ok=True)
    for i in range(n):
        dst = root / f"class {i % CLASSES}" / f"{i:05d}.jpg"
        if not dst.exists():
            os.link(sources / f"{i % distinct}.jpg", dst)
    return float(np.mean([(sources / f"{k}.jpg").stat().st_size for k in range(distinct)])) / 1e6


READ = """
import sys, time
t = time.perf_counter()
from latentatlas.data.images import read_image_folder
r = read_image_folder(sys.argv[1], int(sys.argv[2]))
print(f"{time.perf_counter() - t:.2f} {len(r.y)} {len(r.unusable)} {time.process_time():.2f}")
"""

ONE_THREAD = """
import sys, time
from pathlib import Path
from latentatlas.data.image_folder import _read_image
paths = sorted(Path(sys.argv[1]).glob("class 0/*.jpg"))[:int(sys.argv[3])]
t = time.perf_counter()
for p in paths:
    _read_image(p, int(sys.argv[2]), "crop", "auto")
print(f"{(time.perf_counter() - t) / len(paths):.4f}")
"""


def read_in_fresh_process(code: str, *argv, env: dict) -> str:
    out = subprocess.run([sys.executable, "-c", code, *map(str, argv)], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return out.stdout.split()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000, help="photos in the folder (default 10000)")
    ap.add_argument("--distinct", type=int, default=100, help="distinct photos encoded (default 100)")
    ap.add_argument("--size", type=int, default=64, help="--image-size to read them to (default 64)")
    ap.add_argument("--dir", type=Path, default=None, help="where the folder is made (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the folder (with --dir it is always kept)")
    args = ap.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="la-photos-"))
    from latentatlas.runtime import usable_cores

    t = time.perf_counter()
    mb = make_folder(root, args.n, args.distinct)
    print(f"folder: {args.n} JPEGs of {WIDTH}x{HEIGHT} ({WIDTH * HEIGHT / 1e6:.0f} MP, {mb:.1f} MB each on "
          f"average; hard links to {args.distinct} distinct photos) in {root}, made in {time.perf_counter() - t:.0f} s")
    cache = Path(tempfile.mkdtemp(prefix="la-cache-"))
    env = {**os.environ, "LATENTATLAS_CACHE": str(cache)}
    try:
        floor = float(read_in_fresh_process(ONE_THREAD, root, args.size, 30, env=env)[0])
        cores = usable_cores()
        load = os.getloadavg()[0]
        first, n, bad, cpu = read_in_fresh_process(READ, root, args.size, env=env)
        second, *_ = read_in_fresh_process(READ, root, args.size, env=env)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if args.dir is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"one photo decoded (draft) and resized to {args.size}x{args.size} on one thread: {floor * 1000:.1f} ms "
          f"-> at best {args.n * floor / cores:.0f} s for {args.n} on {cores} cores")
    print(f"first read  ({n} images, {bad} unusable, {cores} reader threads): {float(first):6.1f} s "
          f"({int(n) / float(first):.0f} images/s; target <= 60 s for 10,000)")
    print(f"  it used {float(cpu):.1f} CPU seconds ({float(cpu) / float(first):.2f} cores on average; "
          f"load average {load:.1f} on {os.cpu_count()} CPUs when it began: other work shares them)")
    print(f"second read (from the cache):{'':21}{float(second):6.2f} s (target <= 3 s for 10,000)")


if __name__ == "__main__":
    main()
