"""Dataset registry: names, search order, sample and fallback, subsets, image folders, .npz."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import run_cli, assert_one_line_error, snapshot
from latentatlas.settings import DataConfig
from latentatlas.data import ImageDataset, load_dataset, load_dataset_or_sample, parse_classes, sources
from latentatlas.data.idx import read_idx
from latentatlas.data.registry import FASHION_CLASSES, SAMPLE_FILES
from latentatlas.errors import UserError
from idx_helpers import make_idx_dataset



def _cache() -> Path:
    return Path(os.environ["LATENTATLAS_CACHE"])






@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No dataset anywhere and every mirror refusing at once (a closed local port)."""
    monkeypatch.delenv("LATENTATLAS_DATA", raising=False)
    monkeypatch.setenv("LATENTATLAS_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv(sources.MIRRORS_ENV, "http://127.0.0.1:9/{name}/")
    monkeypatch.setattr(sources, "SYSTEM_DIRS", [tmp_path / "no-system-datasets"])
    return tmp_path


def _ds_arrays_equal(a: ImageDataset, b: ImageDataset) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("x_train", "y_train", "x_test", "y_test"))


# -- search order -----------------------------------------------------------------------------

def test_search_order_data_dir_env_cache_system(tmp_path, monkeypatch):
    roots = {k: tmp_path / k for k in ("arg", "env", "cache", "system")}
    made = {}
    for i, (k, root) in enumerate(roots.items()):
        folder = root / "datasets" / "mnist" if k == "cache" else root / "mnist"
        folder.mkdir(parents=True)
        made[k] = make_idx_dataset(folder, seed=i)[0]
    monkeypatch.setenv("LATENTATLAS_DATA", str(roots["env"]))
    monkeypatch.setenv("LATENTATLAS_CACHE", str(roots["cache"]))
    monkeypatch.setattr(sources, "SYSTEM_DIRS", [roots["system"]])
    monkeypatch.setenv(sources.MIRRORS_ENV, "http://127.0.0.1:9/")

    def first_image_of(ds):
        return next(k for k, a in made.items() if np.array_equal(ds.x_train, a["x_train"][:, None]))

    assert first_image_of(load_dataset("mnist", data_dir=roots["arg"])) == "arg"
    assert first_image_of(load_dataset("mnist")) == "env"
    monkeypatch.delenv("LATENTATLAS_DATA")
    ds = load_dataset("mnist")
    assert first_image_of(ds) == "cache" and "cache" in ds.source
    import shutil

    shutil.rmtree(roots["cache"])
    ds = load_dataset("mnist")
    assert first_image_of(ds) == "system" and str(roots["system"]) in ds.source


def test_files_directly_in_root_are_accepted(tmp_path):
    arrays, _ = make_idx_dataset(tmp_path)
    ds = load_dataset("mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(ds.x_test, arrays["x_test"][:, None])
    assert ds.y_train.dtype == np.int64 and ds.x_train.dtype == np.uint8


def test_explicit_data_dir_is_not_second_guessed(tmp_path, monkeypatch, capsys):
    good = tmp_path / "good"
    (good / "mnist").mkdir(parents=True)
    make_idx_dataset(good / "mnist")
    monkeypatch.setenv("LATENTATLAS_DATA", str(good))
    rc, out, err = run_cli(capsys, "data", "info", "mnist", "--data-dir", tmp_path / "elsewhere")
    assert_one_line_error(rc, err, "not found in --data-dir", str(tmp_path / "elsewhere"))


def test_incomplete_folder_is_reported(tmp_path, offline, capsys):
    folder = tmp_path / "d" / "mnist"
    folder.mkdir(parents=True)
    make_idx_dataset(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    rc, out, err = run_cli(capsys, "data", "info", "mnist", "--data-dir", tmp_path / "d")
    assert_one_line_error(rc, err, "missing t10k-labels-idx1-ubyte")


def test_nothing_found_no_network_names_every_place(offline, capsys):
    cache = Path(os.environ["LATENTATLAS_CACHE"])
    before = snapshot(offline)
    t0 = time.perf_counter()
    rc, out, err = run_cli(capsys, "data", "info", "fashion-mnist")
    assert time.perf_counter() - t0 < 10
    assert_one_line_error(rc, err, "not found", str(cache / "datasets" / "fashion-mnist"),
                          str(offline / "no-system-datasets" / "fashion-mnist"),
                          "download failed", "--data-dir", "LATENTATLAS_DATA")
    assert snapshot(offline) == before and not cache.exists()


def test_no_download_flag(offline, capsys):
    rc, out, err = run_cli(capsys, "data", "info", "mnist", "--no-download")
    assert_one_line_error(rc, err, "download not attempted")


# -- names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mnist2", "MNIST ", "folder:", "imagenet"])
def test_unknown_dataset(name, capsys, tmp_path):
    before = snapshot(tmp_path, _cache())
    rc, out, err = run_cli(capsys, "data", "info", name)
    assert_one_line_error(rc, err, repr(name) if name != "folder:" else "needs a path")
    assert snapshot(tmp_path, _cache()) == before


def test_data_config_fields_are_load_dataset_kwargs():
    ds = load_dataset(**{**asdict(DataConfig(name="mnist-sample")), "download": False})
    assert ds.name == "mnist-sample"


# -- embedded sample and the fallback -----------------------------------------------------------

def test_sample_split_8000_2000_seeded():
    ds = load_dataset("mnist-sample")
    assert ds.x_train.shape == (8000, 1, 28, 28) and ds.x_test.shape == (2000, 1, 28, 28)
    assert ds.class_names == [str(i) for i in range(10)] and ds.original_labels == list(range(10))
    all_y = read_idx(SAMPLE_FILES["y"])
    assert sorted(np.concatenate([ds.y_train, ds.y_test]).tolist()) == sorted(all_y.tolist())
    assert _ds_arrays_equal(ds, load_dataset("mnist-sample"))
    other = load_dataset("mnist-sample", split_seed=1)
    assert not np.array_equal(ds.y_test, other.y_test)
    assert load_dataset("mnist-sample", test_fraction=0.5).x_test.shape[0] == 5000


def test_fallback_to_sample_without_network_is_quick_and_says_so(offline):
    t0 = time.perf_counter()
    ds, note = load_dataset_or_sample()
    assert time.perf_counter() - t0 < 10
    assert ds.name == "mnist-sample" and len(ds.y_train) == 8000
    assert "embedded sample" in note and "8000" in note


def test_fallback_uses_full_data_when_found(tmp_path, offline):
    make_idx_dataset(tmp_path / "d" / "mnist")
    ds, note = load_dataset_or_sample(data_dir=tmp_path / "d", classes="3,5")
    assert ds.name == "mnist" and "full MNIST" in note
    assert ds.class_names == ["3", "5"] and len(ds.y_train) == 6


def test_explicit_mnist_never_falls_back(offline):
    with pytest.raises(UserError, match="not found"):
        load_dataset("mnist")


def test_fallback_refuses_a_wrong_data_dir(offline):
    with pytest.raises(UserError, match="not found in --data-dir"):
        load_dataset_or_sample(data_dir=offline / "nowhere")


def test_fallback_still_reports_a_corrupt_file(tmp_path, offline):
    folder = tmp_path / "d" / "mnist"
    make_idx_dataset(folder)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(UserError, match="train-labels"):
        load_dataset_or_sample(data_dir=tmp_path / "d")


# -- class subsets ---------------------------------------------------------------------------

def test_parse_classes():
    assert parse_classes("1, 4,8") == ["1", "4", "8"]
    assert parse_classes("Sandal,Sneaker") == ["Sandal", "Sneaker"]
    assert parse_classes([1, 4]) == ["1", "4"] and parse_classes(3) == ["3"]
    assert parse_classes("") is None and parse_classes(None) is None


def test_subset_relabels_and_keeps_names():
    full = load_dataset("mnist-sample")
    ds = load_dataset("mnist-sample", classes="8,1,4")
    assert ds.class_names == ["1", "4", "8"] and ds.original_labels == [1, 4, 8]
    assert set(np.unique(ds.y_train)) == {0, 1, 2}
    for new, old in enumerate([1, 4, 8]):
        np.testing.assert_array_equal(ds.x_train[ds.y_train == new], full.x_train[full.y_train == old])
        assert (ds.y_test == new).sum() == (full.y_test == old).sum()


def test_subset_by_name_case_insensitive(tmp_path):
    make_idx_dataset(tmp_path / "fashion-mnist")
    ds = load_dataset("fashion-mnist", data_dir=tmp_path, classes=["sneaker", "Sandal", "9"])
    assert ds.class_names == ["Sandal", "Sneaker", "Ankle boot"] and ds.original_labels == [5, 7, 9]
    assert FASHION_CLASSES[5] == "Sandal"


@pytest.mark.parametrize("classes, words", [
    ("1,42", "unknown class '42'"),
    ("Sandal,1", "unknown class 'Sandal'"),
    ("3", "at least two classes"),
    ("3,3", "listed twice"),
])
def test_bad_subsets(classes, words, capsys, tmp_path):
    before = snapshot(tmp_path, _cache())
    rc, out, err = run_cli(capsys, "data", "info", "mnist-sample", "--classes", classes)
    assert_one_line_error(rc, err, words)
    assert snapshot(tmp_path, _cache()) == before


# -- image folders ------------------------------------------------------------------------------

def _make_image_folder(root: Path, classes=("cat", "dog"), per_class=3, size=(40, 30)):
    from PIL import Image

    rng = np.random.default_rng(0)
    for ci, c in enumerate(classes):
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            rgb = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            ext = ".png" if i % 2 == 0 else ".JPG"
            Image.fromarray(rgb).save(root / c / f"img{i}{ext}")
    return root


def test_image_folder_colour_resized_and_split(tmp_path):
    root = _make_image_folder(tmp_path / "imgs", per_class=5)
    (root / "dog" / "notes.txt").write_text("not an image")
    ds = load_dataset(f"folder:{root}", test_fraction=0.2, split_seed=3)
    assert ds.class_names == ["cat", "dog"]
    # colour photos stay colour (auto); --color grey gives one channel
    assert ds.x_train.shape == (8, 3, 28, 28) and ds.x_test.shape == (2, 3, 28, 28) and ds.x_train.dtype == np.uint8
    grey = load_dataset(f"folder:{root}", test_fraction=0.2, split_seed=3, color="grey")
    assert grey.x_train.shape == (8, 1, 28, 28) and grey.x_test.shape == (2, 1, 28, 28)
    ds32 = load_dataset(f"folder:{root}", image_size=16)
    assert ds32.image_shape == (16, 16)
    assert "seeded split" in ds.source and "1 non-image file skipped" in ds.source


def test_image_folder_with_no_images(tmp_path, capsys):
    root = tmp_path / "imgs"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "a" / "readme.txt").write_text("x")
    before = snapshot(tmp_path, _cache())
    rc, out, err = run_cli(capsys, "data", "info", f"folder:{root}")
    assert_one_line_error(rc, err, str(root), "no images found")
    assert snapshot(tmp_path, _cache()) == before


def test_image_folder_bad_image_and_empty_class(tmp_path, capsys):
    root = _make_image_folder(tmp_path / "imgs")
    (root / "dog" / "broken.png").write_bytes(b"not a png")
    rc, out, err = run_cli(capsys, "data", "info", f"folder:{root}", "--strict-images")
    assert_one_line_error(rc, err, "dog/broken.png (unreadable", "--strict-images")
    (root / "dog" / "broken.png").unlink()
    (root / "bird").mkdir()
    rc, out, err = run_cli(capsys, "data", "info", f"folder:{root}")
    assert_one_line_error(rc, err, "bird", "hold no images")


def test_missing_image_folder(tmp_path, capsys):
    rc, out, err = run_cli(capsys, "data", "info", f"folder:{tmp_path / 'nope'}")
    assert_one_line_error(rc, err, "image folder not found")


# -- npz ------------------------------------------------------------------------------------------

def test_npz_with_channel_axis_and_names(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (50, 1, 12, 12), dtype=np.uint8)
    y = np.arange(50) % 3
    np.savez(tmp_path / "d.npz", x=x, y=y, class_names=np.array(["a", "b", "c"]))
    ds = load_dataset(f"npz:{tmp_path / 'd.npz'}", classes="a,c")
    assert ds.class_names == ["a", "c"] and ds.original_labels == [0, 2]
    assert len(ds.y_train) + len(ds.y_test) == int((y != 1).sum())
    assert ds.image_shape == (12, 12)


def test_npz_own_split_float_images_and_label_values(tmp_path):
    x = np.linspace(0, 1, 10 * 8 * 8, dtype=np.float32).reshape(10, 8, 8)
    np.savez(tmp_path / "d.npz", x=x, y=np.array([3, 7] * 5), x_test=x[:4], y_test=np.array([7, 7, 3, 3]))
    ds = load_dataset(f"npz:{tmp_path / 'd.npz'}")
    assert ds.class_names == ["3", "7"] and ds.y_test.tolist() == [1, 1, 0, 0]
    assert len(ds.y_train) == 10 and ds.x_train.max() == 255 and ds.x_train.dtype == np.uint8


@pytest.mark.parametrize("arrays, words", [
    ({"x": np.zeros((4, 5, 5), np.uint8)}, "no array 'y'"),
    ({"x": np.zeros((4, 5, 5), np.uint8), "y": np.zeros(3, int)}, "holds 4 images but 'y' holds 3 labels"),
    ({"x": np.zeros((4, 5), np.uint8), "y": np.zeros(4, int)}, "expected (N, H, W)"),
    ({"x": np.zeros((4, 5, 5), np.uint8), "y": np.array([0, 1, 2, 5]), "class_names": np.array(["a", "b", "c"])},
     "labels must lie in 0..2"),
    ({"x": np.full((4, 5, 5), 2.0), "y": np.array([0, 1, 0, 1])}, "values in [0, 1]"),
])
def test_bad_npz(tmp_path, capsys, arrays, words):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    before = snapshot(tmp_path, _cache())
    rc, out, err = run_cli(capsys, "data", "info", f"npz:{path}")
    assert_one_line_error(rc, err, str(path), words)
    assert snapshot(tmp_path, _cache()) == before


def test_npz_not_a_zip(tmp_path, capsys):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"hello")
    rc, out, err = run_cli(capsys, "data", "info", f"npz:{path}")
    assert_one_line_error(rc, err, str(path), "not a readable .npz")


@pytest.mark.parametrize("opts, words", [
    (["--test-fraction", "1.5"], "strictly between 0 and 1"),
    (["--image-size", "2"], "from 4 to 1024"),
])
def test_bad_split_and_size_options(capsys, opts, words):
    rc, out, err = run_cli(capsys, "data", "info", "mnist-sample", *opts)
    assert_one_line_error(rc, err, words)


# -- data info / list output ----------------------------------------------------------------------

def test_data_info_sample_text(capsys):
    rc, out, err = run_cli(capsys, "data", "info", "mnist-sample", "--classes", "1,4,8")
    assert rc == 0, err
    ds = load_dataset("mnist-sample", classes="1,4,8")
    assert f"{len(ds.y_train)} training, {len(ds.y_test)} test, 28x28" in out
    assert "classes   3" in out and "embedded sample" in out
    counts = np.bincount(ds.y_train)
    assert all(str(c) in out for c in counts)


def test_data_list(tmp_path, offline, capsys):
    make_idx_dataset(tmp_path / "d" / "fashion-mnist")
    rc, out, err = run_cli(capsys, "data", "list", "--data-dir", tmp_path / "d")
    assert rc == 0, err
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln and not ln.startswith(" ")}
    assert str(tmp_path / "d" / "fashion-mnist") in lines["fashion-mnist"]
    assert "not found" in lines["mnist"]
    assert "embedded" in lines["mnist-sample"]
    assert snapshot(offline / "empty-cache") == {}


# -- the real datasets (LATENTATLAS_DATA) -----------------------------------------------------------

def test_full_mnist_info(full_data_dir, capsys):
    rc, out, err = run_cli(capsys, "data", "info", "mnist", "--data-dir", full_data_dir, "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["train"]["shape"] == [60000, 1, 28, 28] and d["test"]["shape"] == [10000, 1, 28, 28]
    assert d["channels"] == 1
    assert d["n_classes"] == 10 and sum(d["train"]["class_counts"]) == 60000
    assert d["train"]["pixel_min"] == 0 and d["train"]["pixel_max"] == 255


def test_full_fashion_mnist_names(full_data_dir):
    ds = load_dataset("fashion-mnist", data_dir=full_data_dir, classes="Sandal,Sneaker")
    assert ds.class_names == ["Sandal", "Sneaker"] and len(ds.y_train) == 12000 and len(ds.y_test) == 2000


def test_sample_is_the_real_mnist_test_split(full_data_dir):
    full = load_dataset("mnist", data_dir=full_data_dir)
    np.testing.assert_array_equal(read_idx(SAMPLE_FILES["x"])[:, None], full.x_test)


# -- resizing -------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [14, 20, 32, 56])
def test_vectorised_resize_matches_pillow_within_one_level(size):
    from PIL import Image

    from latentatlas.data.images import resize_images

    x = load_dataset("mnist-sample").x_test[:200]                    # (200, 1, 28, 28)
    ours = resize_images(x, size)
    pil = np.stack([np.asarray(Image.fromarray(img[0]).resize((size, size), Image.BILINEAR)) for img in x])
    assert ours.shape == (200, 1, size, size) and ours.dtype == np.uint8
    pil = pil[:, None]
    assert np.abs(ours.astype(int) - pil.astype(int)).max() <= 1


def test_image_size_applies_to_idx_datasets():
    ds = load_dataset("mnist-sample", image_size=32, classes="0,1")
    assert ds.x_train.shape[1:] == (1, 32, 32) and ds.x_test.shape[1:] == (1, 32, 32)
    assert "resized to 32x32" in ds.source


def test_loaded_arrays_are_writable_for_torch():
    ds = load_dataset("mnist-sample")
    assert ds.x_train.flags.writeable and ds.y_train.dtype == np.int64


def test_other_datasets_files_are_refused(full_data_dir, capsys):
    # Fashion-MNIST files directly in the root, asked for as mnist: caught by the label checksums.
    rc, out, err = run_cli(capsys, "data", "info", "mnist", "--data-dir", full_data_dir / "fashion-mnist")
    assert_one_line_error(rc, err, "these are the fashion-mnist files, not mnist")
