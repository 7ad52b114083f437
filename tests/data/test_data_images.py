"""User images in colour: folder: (modes, sizes, crop / pad, bad files) and npz: (layouts, dtypes)."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_helpers import assert_one_line_error, run_cli
from latentatlas.data import load_dataset
from latentatlas.data.images import load_image_folder
from latentatlas.errors import UserError
from latentatlas.rundir import RunDir

RED = (255, 0, 0)


def checksums(root: Path) -> dict:
    """Every file under root with the SHA-256 of its bytes: the user's files must not change."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _palette_image(size, rgb, transparent=False):
    img = Image.new("P", size, 1)
    img.putpalette([0, 0, 0, *rgb] + [0, 0, 0] * 254)
    if transparent:
        img.info["transparency"] = 1
    return img


def make_mixed_folder(root: Path) -> Path:
    """Two classes, one image per mode, mixed sizes; constant colours so each pixel is known.

    Sorted file order (the order load_image_folder returns): a/1-rgb, a/2-rgba, a/3-p, a/4-l,
    b/1-i16, b/2-cmyk, b/3-one, b/4-rgb-small.
    """
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (30, 45, 3), dtype=np.uint8)).save(root / "a" / "1-rgb.png")
    Image.new("RGBA", (16, 16), (255, 0, 0, 128)).save(root / "a" / "2-rgba.png")   # half-transparent red
    _palette_image((20, 12), (0, 0, 255)).save(root / "a" / "3-p.gif")
    Image.new("L", (16, 16), 77).save(root / "a" / "4-l.bmp")
    Image.fromarray(np.full((16, 16), 128 * 257, np.uint16)).save(root / "b" / "1-i16.png")
    Image.new("CMYK", (24, 24), (0, 255, 255, 0)).save(root / "b" / "2-cmyk.jpg", quality=95)
    Image.new("1", (16, 16), 1).save(root / "b" / "3-one.tif")
    Image.new("RGB", (8, 8), (0, 200, 0)).save(root / "b" / "4-rgb-small.webp", lossless=True)
    return root


def test_mixed_modes_and_sizes_become_rgb_with_known_colours(tmp_path):
    x, y, names, note = load_image_folder(make_mixed_folder(tmp_path / "f"), 16)
    assert x.shape == (8, 3, 16, 16) and x.dtype == np.uint8 and names == ["a", "b"]
    assert y.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    centre = x[:, :, 8, 8].astype(int)
    assert np.abs(centre[1] - [255, 128, 128]).max() <= 1          # red at alpha 128 over white
    assert centre[2].tolist() == [0, 0, 255]                      # palette
    assert centre[3].tolist() == [77, 77, 77]                     # grey repeated to RGB
    assert centre[4].tolist() == [128, 128, 128]                  # 16-bit scaled (v / 257), not clipped
    assert np.abs(centre[5] - list(RED)).max() <= 8               # CMYK jpeg
    assert centre[6].tolist() == [255, 255, 255]                  # 1-bit
    assert np.abs(centre[7] - [0, 200, 0]).max() <= 1             # 8x8 webp scaled up
    for part in ("1 RGBA composited on white", "1 palette converted to RGB", "1 16-bit scaled to 8 bits",
                 "1 CMYK converted to RGB", "1 1-bit widened to 8-bit grey", "3 grey repeated to RGB",
                 "4 resized to 16x16 by centre crop"):
        assert part in note, (part, note)
    assert "skipped" not in note


def test_note_reaches_the_source_and_data_info(tmp_path, capsys):
    root = make_mixed_folder(tmp_path / "f")
    (root / "b" / "notes.txt").write_text("not an image")
    (root / "a" / "labels.csv").write_text("1,2")
    (root / "a" / ".DS_Store").write_bytes(b"\0")                  # hidden: ignored, not counted
    ds = load_dataset(f"folder:{root}", image_size=16, test_fraction=0.25)
    assert ds.channels == 3 and len(ds.y_train) + len(ds.y_test) == 8
    assert "2 non-image files skipped" in ds.source and "1 RGBA composited on white" in ds.source
    before = checksums(root)
    rc, out, err = run_cli(capsys, "data", "info", f"folder:{root}", "--image-size", "16", "--json")
    assert rc == 0, err
    assert json.loads(out)["channels"] == 3 and "2 non-image files skipped" in json.loads(out)["source"]
    rc, out, err = run_cli(capsys, "data", "info", f"folder:{root}")
    assert rc == 0, err
    assert "28x28 RGB (3 channels)" in out and "resized to 28x28 by centre crop" in out
    assert checksums(root) == before


def test_grey_folder_stays_grey_and_color_forces(tmp_path):
    root = tmp_path / "g"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        Image.new("L", (20, 20), 50).save(root / c / "l.png")
        Image.fromarray(np.full((20, 20), 65535, np.uint16)).save(root / c / "w.png")
        Image.new("LA", (20, 20), (0, 128)).save(root / c / "la.png")   # black at alpha 128 over white
        Image.new("1", (20, 20), 0).save(root / c / "one.png")
    x, _, _, note = load_image_folder(root, 20)
    assert x.shape == (8, 1, 20, 20)
    assert x[:4, 0, 10, 10].tolist() == [50, 127, 0, 255]          # files sorted: l, la, one, w
    assert "LA composited on white" in note and "grey repeated" not in note and "resized" not in note
    rgb, _, _, note = load_image_folder(root, 20, color="rgb")
    assert rgb.shape == (8, 3, 20, 20) and (rgb == x).all() and "8 grey repeated to RGB" in note
    colour = make_mixed_folder(tmp_path / "c")
    grey, _, _, note = load_image_folder(colour, 16, color="grey")
    assert grey.shape == (8, 1, 16, 16)
    assert abs(int(grey[5, 0, 8, 8]) - 76) <= 3                    # luma of red: 0.299 * 255
    assert "colour converted to grey" in note


def test_palette_transparency_and_32_bit_grey(tmp_path):
    root = tmp_path / "p"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    pal = _palette_image((16, 16), (0, 0, 255), transparent=True)     # index 1 (blue) transparent
    pal.paste(0, (0, 0, 16, 8))                                     # top half: index 0, black, opaque
    pal.save(root / "a" / "pal.png")
    Image.fromarray(np.full((16, 16), 200 * 257, np.int32), "I").save(root / "b" / "i32.tif")
    x, _, _, note = load_image_folder(root, 16)
    assert x[0, :, 4, 8].tolist() == [0, 0, 0] and x[0, :, 12, 8].tolist() == [255, 255, 255]
    assert x[1, :, 8, 8].tolist() == [200, 200, 200]
    assert "1 palette with transparency composited on white" in note and "1 16-bit scaled to 8 bits" in note


def _wide_image(path: Path) -> None:
    """96x32, red, with a white 32x32 square in the centre (the part a centre crop keeps)."""
    a = np.zeros((32, 96, 3), np.uint8)
    a[..., 0] = 255
    a[:, 32:64] = 255
    Image.fromarray(a).save(path)


@pytest.mark.parametrize("fit", ["crop", "pad"])
def test_crop_and_pad_geometry(tmp_path, fit):
    root = tmp_path / "w"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        _wide_image(root / c / "wide.png")
    x, _, _, note = load_image_folder(root, 16, fit=fit)
    img = x[0].astype(int)                                        # (3, 16, 16)
    if fit == "crop":                                             # the white centre fills the square
        assert (img[:, :, 3:13] >= 250).all() and img[0].min() >= 250
        assert "2 resized to 16x16 by centre crop" in note
    else:                                                          # 16x5 content, black above and below
        assert (img[:, :5] == 0).all() and (img[:, 12:] == 0).all()
        assert img[:, 8, 0].tolist()[0] > 200 and img[1:, 8, 0].max() < 60    # red edge kept
        assert (img[:, 8, 7:9] >= 200).all()                       # white centre
        assert "2 resized to 16x16 by padding with black" in note


def test_exif_orientation_and_first_gif_frame(tmp_path):
    root = tmp_path / "e"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    wide = Image.new("RGB", (40, 20), RED)
    exif = Image.Exif()
    exif[0x0112] = 6                                               # "rotate 90 to view"
    wide.save(root / "a" / "turned.jpg", exif=exif, quality=95)
    frames = [Image.new("RGB", (10, 10), c) for c in (RED, (0, 0, 255))]
    frames[0].save(root / "b" / "anim.gif", save_all=True, append_images=frames[1:])
    x, _, _, note = load_image_folder(root, 20, fit="pad")
    # upright it is 20 wide and 40 tall: padding left and right, not above and below
    assert x[0, 0, 0, 10] > 200 and x[0, :, 10, 0].max() == 0
    assert np.abs(x[1, :, 5, 5].astype(int) - list(RED)).max() <= 2 and "1 multi-frame: first frame used" in note


def _good_folder(root: Path) -> Path:
    rng = np.random.default_rng(1)
    for c, n in (("a", 5), ("b", 5)):
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / c / f"{i:03d}.jpg")
    return root


def _broken_folder(root: Path) -> dict:
    """_good_folder plus one broken file of each kind a user meets; {relative path: reason}."""
    _good_folder(root)
    (root / "a" / "notes.png").write_text("a text file renamed .png")
    photo = root / "a" / "big.jpg"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(photo)
    photo.write_bytes(photo.read_bytes()[:2000])             # the header survives, the scan is cut
    (root / "b" / "empty.png").write_bytes(b"")
    Image.new("RGB", (1, 1), RED).save(root / "b" / "dot.png")
    return {"a/big.jpg": "truncated", "a/notes.png": "unreadable", "b/dot.png": "too small",
            "b/empty.png": "zero bytes"}


def test_every_bad_file_listed_in_one_pass_and_skipped(tmp_path, capsys):
    root = tmp_path / "imgs"
    broken = _broken_folder(root)
    before = checksums(root)
    rc, out, err = run_cli(capsys, "data", "info", f"folder:{root}")
    assert rc == 0, err
    warning = err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("latentatlas: warning: ") and "4 files cannot be used" in err
    for path, reason in broken.items():
        assert f"{path} ({reason})" in err
    assert "images    8 training, 2 test" in out                # the 10 good ones, read
    ds = load_dataset(f"folder:{root}", image_size=16)
    assert {b["path"]: b["reason"] for b in ds.unusable} == broken
    assert "4 unusable files skipped" in ds.source
    assert checksums(root) == before                # nothing written into the folder


def test_strict_images_refuses_listing_them_all(tmp_path, capsys):
    root = tmp_path / "imgs"
    broken = _broken_folder(root)
    rc, out, err = run_cli(capsys, "data", "info", f"folder:{root}", "--strict-images")
    assert_one_line_error(rc, err, "4 files cannot be used (--strict-images)", "truncated (",
                          *[f"{p} ({r}" for p, r in broken.items()])
    with pytest.raises(UserError, match="cannot be used"):
        load_dataset(f"folder:{root}", strict_images=True)


def test_console_names_the_first_few_and_counts_the_rest(tmp_path, capsys):
    root = _good_folder(tmp_path / "imgs")
    for i in range(8):
        (root / "a" / f"z{i}.png").write_bytes(b"")
    load_dataset(f"folder:{root}")
    err = capsys.readouterr().err
    assert "8 files cannot be used" in err and "a/z4.png (zero bytes) and 3 more" in err and "z5" not in err


def test_a_class_left_with_no_usable_image(tmp_path):
    root = _good_folder(tmp_path / "imgs")
    for f in (root / "b").iterdir():
        f.write_bytes(b"")
    with pytest.raises(UserError, match="b hold no usable images.*5 files cannot be used"):
        load_dataset(f"folder:{root}")


def test_unconvertible_mode_is_named(tmp_path, monkeypatch):
    from latentatlas.data import image_folder

    root = _good_folder(tmp_path / "imgs")

    def refuse(img):
        raise ValueError(f"conversion from {img.mode} not supported")

    monkeypatch.setattr(image_folder, "_normalise_mode", refuse)
    with pytest.raises(UserError, match=r"a/000.jpg \(unsupported mode: RGB: conversion from RGB"):
        image_folder.read_image_folder(root, 16, strict=True, cache=False)


def test_second_read_comes_from_the_cache_until_a_file_changes(tmp_path, monkeypatch):
    from latentatlas.data import image_folder

    root = _good_folder(tmp_path / "imgs")
    first = load_image_folder(root, 16)
    decoded = []
    real = image_folder._read_image
    monkeypatch.setattr(image_folder, "_read_image", lambda *a: decoded.append(a[0]) or real(*a))
    again = load_image_folder(root, 16)
    assert decoded == [] and all(np.array_equal(u, v) for u, v in zip(first[:2], again[:2]))
    assert again[2:] == first[2:]
    load_image_folder(root, 20)                                   # other settings: decoded
    assert len(decoded) == 10
    changed = root / "a" / "001.jpg"
    Image.new("RGB", (20, 20), RED).save(changed)
    x, y, *_ = load_image_folder(root, 16)
    assert len(decoded) == 20 and x[1, 0].min() > 200 and x[1, 1:].max() < 60     # now red
    assert not any(p.suffix == ".npz" for p in root.rglob("*"))    # the cache lies elsewhere


def test_bad_fit_and_color_values(tmp_path):
    root = _good_folder(tmp_path / "imgs")
    with pytest.raises(UserError, match="fit 'stretch' is not one of crop, pad"):
        load_dataset(f"folder:{root}", fit="stretch")
    with pytest.raises(UserError, match="color 'bw'"):
        load_dataset(f"folder:{root}", color="bw")


def test_memory_one_pass_within_twice_the_final_array(tmp_path):
    """Grey images first, colour after (the costly order for auto): numpy's peak stays at 4/3 of
    the final array while reading (plus the few images in flight on the reader threads: the
    images are 96x96 so that this constant stays small beside the array), and about 2x through
    the seeded split."""
    root = tmp_path / "m"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(60):
            mode = "L" if (c == "a" or i < 30) else "RGB"
            Image.new(mode, (80, 70), 100 if mode == "L" else (100, 100, 100)).save(root / c / f"{i:03d}.png")
    load_dataset(f"folder:{root}", image_size=8)    # imports and caches first: not the images' memory
    tracemalloc.start()
    try:
        x, *_ = load_image_folder(root, 96)
        _, reading = tracemalloc.get_traced_memory()
        del x
        tracemalloc.reset_peak()
        ds = load_dataset(f"folder:{root}", image_size=96)
        _, loading = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    final = ds.x_train.nbytes + ds.x_test.nbytes
    assert ds.channels == 3 and final == 120 * 3 * 96 * 96
    assert (ds.x_train == 100).all() and (ds.x_test == 100).all()     # the grey ones carried over
    assert reading < 1.6 * final, (reading, final)        # measured 1.41-1.44 (4/3 + images in flight)
    assert loading < 2.2 * final, (loading, final)        # measured 2.01-2.02


# -- an old folder: run (before colour) still loads what it was trained on --------------------------

def test_old_folder_run_config_loads_grey_and_stretched(tmp_path):
    root = tmp_path / "photos"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        _wide_image(root / c / "wide.png")
        Image.new("RGB", (10, 10), RED).save(root / c / "extra.bmp")   # not read by the old loader
    run = tmp_path / "old-run"
    run.mkdir()
    old_data = {"name": f"folder:{root}", "data_dir": None, "classes": None, "image_size": 16,
                "test_fraction": 0.5, "split_seed": 0}
    (run / "config.json").write_text(json.dumps({"data": old_data}))
    section = RunDir(run).config_section("data")
    assert section["color"] == "grey" and section["fit"] == "legacy"
    ds = load_dataset(**section)
    assert ds.channels == 1 and len(ds.y_train) + len(ds.y_test) == 2      # PNG/JPEG only, as then
    with Image.open(root / "a" / "wide.png") as img:                       # the old rule: grey, stretched
        expected = np.asarray(img.convert("L").resize((16, 16), Image.Resampling.BILINEAR))
    both = np.concatenate([ds.x_train, ds.x_test])[:, 0]
    assert any(np.array_equal(b, expected) for b in both)
    # a run written after the change keeps its own settings; other datasets are untouched
    (run / "config.json").write_text(json.dumps({"data": {**old_data, "color": "auto", "fit": "crop"}}))
    assert RunDir(run).config_section("data")["color"] == "auto"
    (run / "config.json").write_text(json.dumps({"data": {**old_data, "name": "mnist-sample"}}))
    assert "color" not in RunDir(run).config_section("data")


# -- npz -----------------------------------------------------------------------------------------

def _npz(tmp_path, **arrays) -> str:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return f"npz:{path}"


LABELS = np.arange(12) % 2


@pytest.mark.parametrize("shape, to_nchw", [
    ((12, 8, 10), lambda a: a[:, None]),
    ((12, 8, 10, 1), lambda a: a.transpose(0, 3, 1, 2)),
    ((12, 1, 8, 10), lambda a: a),
    ((12, 8, 10, 3), lambda a: a.transpose(0, 3, 1, 2)),
    ((12, 3, 8, 10), lambda a: a),
])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_npz_layouts_and_dtypes(tmp_path, shape, to_nchw, dtype):
    levels = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    x = levels if dtype == "uint8" else (levels / 255).astype(np.float32)
    ds = load_dataset(_npz(tmp_path, x=x, y=LABELS, x_test=x[:4], y_test=LABELS[:4]))
    want = to_nchw(levels)
    assert ds.x_train.shape == want.shape and ds.x_train.dtype == np.uint8
    np.testing.assert_array_equal(ds.x_train, want)
    np.testing.assert_array_equal(ds.x_test, want[:4])
    assert ds.x_train.flags.c_contiguous


def test_npz_color_conversion(tmp_path):
    x = np.zeros((12, 6, 6, 3), np.uint8)
    x[..., 0] = 255                                                # red
    grey = load_dataset(_npz(tmp_path, x=x, y=LABELS), color="grey")
    assert grey.channels == 1 and int(grey.x_train[0, 0, 0, 0]) == 76
    rgb = load_dataset(_npz(tmp_path, x=x[..., 0], y=LABELS), color="rgb")
    assert rgb.channels == 3 and (rgb.x_train == 255).all()


@pytest.mark.parametrize("shape, layout, want", [
    ((12, 3, 32, 3), "NHWC", (3, 3, 32)),
    ((12, 3, 32, 3), "nchw", (3, 32, 3)),
    ((12, 1, 8, 1), "NHWC", (1, 1, 8)),
])
def test_npz_layout_settles_an_ambiguous_shape(tmp_path, capsys, shape, layout, want):
    x = np.zeros(shape, np.uint8)
    ds = load_dataset(_npz(tmp_path, x=x, y=LABELS, layout=layout))
    assert ds.x_train.shape[1:] == want
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=LABELS)
    before = checksums(tmp_path)
    rc, out, err = run_cli(capsys, "data", "info", f"npz:{path}")
    assert_one_line_error(rc, err, str(path), f"shape {shape}", "axis 1 and axis 3 could both be the channels",
                          'layout="NHWC"')
    assert checksums(tmp_path) == before


@pytest.mark.parametrize("arrays, words", [
    ({"x": np.zeros((12, 8, 8, 4), np.uint8)}, "4 channels (RGBA?"),
    ({"x": np.zeros((12, 4, 8, 8), np.uint8)}, "4 channels"),
    ({"x": np.zeros((12, 8, 8, 5), np.uint8)}, "no axis of 1 or 3 channels"),
    ({"x": np.zeros((12, 8, 8, 3), np.uint8), "layout": "NCHW"}, "8 channels"),
    ({"x": np.zeros((12, 8, 8, 3), np.uint8), "layout": "HWC"}, "'layout' must be the string"),
    ({"x": np.zeros((12, 8, 8, 3), np.uint8), "x_test": np.zeros((4, 8, 8), np.uint8), "y_test": LABELS[:4]},
     "x_test is (1, 8, 8)"),
    ({"x": np.zeros((12, 2, 8, 8, 3), np.uint8)}, "expected (N, H, W), (N, H, W, C) or (N, C, H, W)"),
])
def test_bad_npz_channels(tmp_path, capsys, arrays, words):
    path = tmp_path / "bad.npz"
    np.savez(path, y=LABELS, **arrays)
    before = checksums(tmp_path)
    rc, out, err = run_cli(capsys, "data", "info", f"npz:{path}")
    assert_one_line_error(rc, err, str(path), words)
    assert checksums(tmp_path) == before


def test_old_folder_run_is_not_taken_for_todays_colour_settings():
    """`run` must not reuse an old folder: run's training for color=auto (its model saw grey,
    stretched images), while old mnist runs stay reusable."""
    from latentatlas.settings.stages import drop_later_defaults

    new = {"name": "folder:/photos", "image_size": 28, "color": "auto", "fit": "crop"}
    assert drop_later_defaults("data", new) == new
    assert drop_later_defaults("data", {**new, "name": "mnist"}) == {"name": "mnist", "image_size": 28}


def test_data_info_suggests_the_first_run_preset_for_a_folder_of_a_few_thousand():
    from latentatlas.commands.data import FIRST_RUN_PRESET, first_run_hint
    from latentatlas.data import ImageDataset

    def folder(n):
        x, y = np.zeros((n, 3, 8, 8), np.uint8), np.arange(n) % 2
        return ImageDataset("folder:/my photos", x, y, x[:10], y[:10], ["a", "b"], "here")

    hint = first_run_hint(folder(3000))
    assert f"--preset {FIRST_RUN_PRESET} --dataset 'folder:/my photos'" in hint
    assert first_run_hint(folder(100)) is None
    mnist = load_dataset("mnist-sample")
    assert first_run_hint(mnist) is None
