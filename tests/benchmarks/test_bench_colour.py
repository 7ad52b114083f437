"""benchmarks/bench_colour.py --emoji: the class-per-category folder built from the npm package
emoji-datasource-twitter (here a tiny package of the same layout, so nothing is fetched)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from bench_helpers import load_benchmark


def _module():
    return load_benchmark("bench_colour")


def _package(root: Path, emoji: list[dict], files: list[str]) -> None:
    """root/emoji-datasource-twitter-0.0.1.tgz as `npm pack` writes it: package/emoji.json and the PNGs."""
    with tarfile.open(root / "emoji-datasource-twitter-0.0.1.tgz", "w:gz") as tar:
        for name, data in [("package/emoji.json", json.dumps(emoji).encode())] + \
                          [(f"package/img/twitter/64/{f}", b"\x89PNG stand-in") for f in files]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_emoji_folder_is_one_folder_per_category_with_skin_tones_and_small_categories_left_out(tmp_path):
    bench = _module()
    people = [{"image": f"p{i}.png", "category": "People & Body",
               "skin_variations": {"1F3FB": {"image": f"p{i}-1.png"}}} for i in range(bench.EMOJI_MIN_IMAGES)]
    food = [{"image": f"f{i}.png", "category": "Food & Drink"} for i in range(bench.EMOJI_MIN_IMAGES)]
    small = [{"image": "c0.png", "category": "Component"}, {"image": "gone.png", "category": "Food & Drink"}]
    files = [e["image"] for e in people + food] + [f"p{i}-1.png" for i in range(bench.EMOJI_MIN_IMAGES)] + ["c0.png"]
    _package(tmp_path, people + food + small, files)
    folder = bench.emoji_folder(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["Food & Drink", "People & Body"]
    assert len(list((folder / "People & Body").iterdir())) == 2 * bench.EMOJI_MIN_IMAGES     # skin tones kept
    assert len(list((folder / "Food & Drink").iterdir())) == bench.EMOJI_MIN_IMAGES          # a missing file left out
    assert bench.emoji_folder(tmp_path) == folder                                            # built once
