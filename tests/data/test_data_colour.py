"""Built-in colour datasets: cifar10 (binary archive), svhn (.mat), mnist-color (tinted MNIST).

CIFAR-10 and SVHN are tiny synthetic files in the official formats, found in each search
place or served by a local mirror whose checksums replace the published ones; no test
touches the network. mnist-color uses the real MNIST files ($LATENTATLAS_DATA).
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import http.server
import io
import pickle
import re
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from cli_helpers import assert_one_line_error, run_cli, snapshot
from latentatlas.data import archives, cifar, load_dataset, mnist_color, sources
from latentatlas.data.svhn import read_svhn_mat
from latentatlas.errors import UserError

RECORDS = 7            # per synthetic CIFAR batch (the real ones hold 10,000)
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Small CIFAR batches; no dataset in any default place; mirrors refusing at once."""
    monkeypatch.setattr(cifar, "RECORDS_PER_BATCH", RECORDS)
    monkeypatch.delenv("LATENTATLAS_DATA", raising=False)
    monkeypatch.setenv("LATENTATLAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sources, "SYSTEM_DIRS", [tmp_path / "system"])
    monkeypatch.setenv(sources.MIRRORS_ENV, "http://127.0.0.1:9/{name}/")


# -- synthetic files in the official formats ---------------------------------------------------

def cifar_batches(seed=0) -> dict[str, bytes]:
    """Member name -> bytes: five training batches, the test batch, batches.meta.txt."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, name in enumerate([*cifar.TRAIN_BATCHES, *cifar.TEST_BATCHES]):
        records = rng.integers(0, 256, (RECORDS, cifar.RECORD), dtype=np.uint8)
        records[:, 0] = (np.arange(RECORDS) + i) % 10
        out[name] = records.tobytes()
    out[cifar.META] = ("\n".join(CLASSES) + "\n\n").encode()   # the real file ends in blank lines
    return out


def write_tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def write_cifar_archive(folder: Path, batches=None, extra=None) -> Path:
    members = {f"{cifar.FOLDER}/{k}": v for k, v in (batches or cifar_batches()).items()}
    return write_tar(folder / cifar.ARCHIVE, {**members, **(extra or {})})


def write_cifar_folder(folder: Path, batches=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (batches or cifar_batches()).items():
        (folder / name).write_bytes(data)
    return folder


def svhn_arrays(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8),
            "y": (np.arange(n) % 10 + 1).astype(np.uint8)[:, None]}   # 1..10, 10 = digit 0


def write_svhn(folder: Path) -> dict[str, dict]:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train": svhn_arrays(12, 1), "test": svhn_arrays(5, 2)}
    for split, arr in arrays.items():
        savemat(folder / f"{split}_32x32.mat", arr)
    return arrays


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_files(cache: Path) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


# -- CIFAR-10 reading ----------------------------------------------------------------------------

def test_cifar_archive_and_extracted_folder_read_alike(tmp_path):
    batches = cifar_batches()
    archive = write_cifar_archive(tmp_path / "a", batches)
    folder = write_cifar_folder(tmp_path / "b" / cifar.FOLDER, batches)
    got_a, got_b = cifar.read_cifar(archive), cifar.read_cifar(folder)
    for a, b in zip(got_a, got_b):
        np.testing.assert_array_equal(a, b)
    x_tr, y_tr, x_te, y_te, names = got_a
    assert x_tr.shape == (5 * RECORDS, 3, 32, 32) and x_te.shape == (RECORDS, 3, 32, 32)
    assert x_tr.dtype == np.uint8 and y_tr.dtype == np.int64 and names == CLASSES
    # Record layout: label byte, then the R, G, B planes row by row -> channel-first as stored.
    rec = np.frombuffer(batches["data_batch_2.bin"], np.uint8).reshape(RECORDS, -1)[3]
    np.testing.assert_array_equal(x_tr[RECORDS + 3, 1], rec[1 + 1024:1 + 2048].reshape(32, 32))
    assert y_tr[RECORDS + 3] == rec[0]
    np.testing.assert_array_equal(y_te, (np.arange(RECORDS) + 5) % 10)


@pytest.mark.parametrize("layout", ["archive", "extracted", "batches-in-root"])
@pytest.mark.parametrize("place", ["data-dir", "env-named", "env-root", "cache", "system"])
def test_cifar_found_in_each_place(tmp_path, monkeypatch, place, layout):
    root = tmp_path / "root"
    folder = {"data-dir": root / "cifar10", "env-named": root / "cifar10", "env-root": root,
              "cache": tmp_path / "cache" / "datasets" / "cifar10", "system": tmp_path / "system" / "cifar10"}[place]
    if layout == "archive":
        write_cifar_archive(folder)
    else:
        write_cifar_folder(folder / cifar.FOLDER if layout == "extracted" else folder)
    if place.startswith("env"):
        monkeypatch.setenv("LATENTATLAS_DATA", str(root))
    ds = load_dataset("cifar10", data_dir=root if place == "data-dir" else None, download=False)
    label = {"data-dir": "--data-dir", "env-named": "$LATENTATLAS_DATA", "env-root": "$LATENTATLAS_DATA",
             "cache": "(cache)", "system": "(system)"}[place]
    assert label in ds.source and str(folder) in ds.source
    assert ds.x_train.shape == (5 * RECORDS, 3, 32, 32) and ds.channels == 3 and ds.class_names == CLASSES
    assert ds.factors_train == {} and ds.x_train.flags.writeable


def test_cifar_python_version_is_never_unpickled(tmp_path, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise AssertionError("a pickle was loaded")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    py = {f"cifar-10-batches-py/{n}": pickle.dumps({"data": n})
          for n in ("data_batch_1", "test_batch", "batches.meta")}
    ds = load_dataset("cifar10", data_dir=write_cifar_archive(tmp_path / "both", extra=py).parent)
    assert len(ds.y_train) == 5 * RECORDS
    # The python version alone: refused by name, still without unpickling anything.
    write_tar(tmp_path / "py" / cifar.ARCHIVE, py)
    rc, out, err = run_cli(capsys, "data", "info", "cifar10", "--data-dir", tmp_path / "py", "--no-download")
    assert_one_line_error(rc, err, cifar.ARCHIVE, "not the CIFAR-10 binary version", "data_batch_1.bin")


def test_no_module_imports_pickle():
    src = Path(cifar.__file__).parents[1]
    hits = [str(p) for p in src.rglob("*.py") if re.search(r"^\s*(import|from)\s+pickle\b", p.read_text(), re.M)]
    assert hits == []


def test_cifar_link_member_is_refused(tmp_path, capsys):
    batches = cifar_batches()
    del batches["data_batch_3.bin"]
    members = {f"{cifar.FOLDER}/{k}": v for k, v in batches.items()}
    write_tar(tmp_path / cifar.ARCHIVE, members, links={f"{cifar.FOLDER}/data_batch_3.bin": "/etc/passwd"})
    rc, out, err = run_cli(capsys, "data", "info", "cifar10", "--data-dir", tmp_path, "--no-download")
    assert_one_line_error(rc, err, "data_batch_3.bin is a link")


@pytest.mark.parametrize("layout", ["archive", "extracted"])
@pytest.mark.parametrize("cut, words", [(100, "not a whole number of 3073-byte records (truncated)"),
                                        (3073, f"holds {RECORDS - 1} records, expected {RECORDS}")])
def test_truncated_cifar_batch(tmp_path, capsys, layout, cut, words):
    batches = cifar_batches()
    batches["data_batch_3.bin"] = batches["data_batch_3.bin"][:-cut]
    if layout == "archive":
        write_cifar_archive(tmp_path, batches)
    else:
        write_cifar_folder(tmp_path / cifar.FOLDER, batches)
    before = snapshot(tmp_path)
    rc, out, err = run_cli(capsys, "data", "info", "cifar10", "--data-dir", tmp_path, "--no-download")
    assert_one_line_error(rc, err, "data_batch_3.bin", words)
    assert snapshot(tmp_path) == before


def test_truncated_or_corrupt_archive(tmp_path, capsys):
    archive = write_cifar_archive(tmp_path)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    rc, out, err = run_cli(capsys, "data", "info", "cifar10", "--data-dir", tmp_path, "--no-download")
    assert_one_line_error(rc, err, str(archive), "corrupt or truncated archive")
    archive.write_bytes(b"not a tar file at all" * 10)
    rc, out, err = run_cli(capsys, "data", "info", "cifar10", "--data-dir", tmp_path, "--no-download")
    assert_one_line_error(rc, err, str(archive), "corrupt or truncated archive")


def test_cifar_bad_meta_and_incomplete_folder(tmp_path, capsys):
    batches = cifar_batches()
    batches[cifar.META] = b"cat\ndog\n"
    write_cifar_archive(tmp_path / "meta", batches)
    rc, out, err = run_cli(capsys, "data", "info", "cifar10", "--data-dir", tmp_path / "meta", "--no-download")
    assert_one_line_error(rc, err, "batches.meta.txt", "lists 2 class names, expected 10")
    folder = write_cifar_folder(tmp_path / "part" / cifar.FOLDER)
    (folder / "test_batch.bin").unlink()
    rc, out, err = run_cli(capsys, "data", "info", "cifar10", "--data-dir", tmp_path / "part", "--no-download")
    assert_one_line_error(rc, err, "not found in --data-dir", "missing test_batch.bin")


# -- SVHN reading -----------------------------------------------------------------------------------

def test_svhn_reads_channel_first_and_maps_label_10_to_0(tmp_path):
    arrays = write_svhn(tmp_path / "svhn")
    ds = load_dataset("svhn", data_dir=tmp_path, download=False)
    assert ds.x_train.shape == (12, 3, 32, 32) and ds.x_test.shape == (5, 3, 32, 32) and ds.channels == 3
    assert ds.class_names == [str(d) for d in range(10)]
    X, y = arrays["train"]["X"], arrays["train"]["y"][:, 0]
    np.testing.assert_array_equal(ds.x_train[4, 2, 7, 9], X[7, 9, 2, 4])        # (H, W, C, N) -> (N, C, H, W)
    np.testing.assert_array_equal(ds.x_train, X.transpose(3, 2, 0, 1))
    assert 10 in y and list(ds.y_train[y == 10]) == [0]
    np.testing.assert_array_equal(ds.y_train, y % 10)
    assert ds.y_train.dtype == np.int64 and "--data-dir" in ds.source


@pytest.mark.parametrize("arrays, words", [
    ({"X": np.zeros((32, 32, 3, 4), np.uint8)}, "has no 'y' array"),
    ({"images": np.zeros((4, 32, 32), np.uint8)}, "has no 'X' or 'y' array"),
    ({"X": np.zeros((32, 32, 4), np.uint8), "y": np.ones((4, 1), np.uint8)}, "expected uint8 (32, 32, 3, N)"),
    ({"X": np.zeros((32, 32, 3, 4), np.uint8), "y": np.ones((5, 1), np.uint8)}, "y has shape (5, 1) for 4 images"),
    ({"X": np.zeros((32, 32, 3, 4), np.uint8), "y": np.full((4, 1), 11, np.uint8)}, "labels 1..10"),
])
def test_svhn_file_without_the_expected_arrays(tmp_path, capsys, arrays, words):
    write_svhn(tmp_path)
    savemat(tmp_path / "test_32x32.mat", arrays)
    before = snapshot(tmp_path)
    rc, out, err = run_cli(capsys, "data", "info", "svhn", "--data-dir", tmp_path, "--no-download")
    assert_one_line_error(rc, err, "test_32x32.mat", words)
    assert snapshot(tmp_path) == before


def test_svhn_unreadable_file(tmp_path, capsys):
    write_svhn(tmp_path)
    (tmp_path / "train_32x32.mat").write_bytes(b"\x00garbage, not MATLAB" * 50)
    rc, out, err = run_cli(capsys, "data", "info", "svhn", "--data-dir", tmp_path, "--no-download")
    assert_one_line_error(rc, err, "train_32x32.mat", "not a readable MATLAB file")
    with pytest.raises(UserError, match="file not found"):
        read_svhn_mat(tmp_path / "nope.mat")


# -- downloads from a local mirror ---------------------------------------------------------------

class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files; under /short/ it promises more bytes than it sends (a dropped connection)."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.startswith("/short/"):
            return super().do_GET()
        body = (Path(self.directory) / self.path[len("/short/"):]).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + 1000))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.close_connection = True


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """http://127.0.0.1:PORT/<name>/ serving synthetic cifar10 and svhn files; SHA256 = their digests."""
    served = tmp_path / "served"
    archive = write_cifar_archive(served / "cifar10")
    write_svhn(served / "svhn")
    table = {"cifar10": {cifar.ARCHIVE: sha256(archive)},
             "svhn": {f: sha256(served / "svhn" / f) for f in ("train_32x32.mat", "test_32x32.mat")}}
    monkeypatch.setattr(archives, "SHA256", table)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(served)))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    monkeypatch.setenv(sources.MIRRORS_ENV, base + "{name}/")
    try:
        yield {"base": base, "served": served, "cache": tmp_path / "cache", "table": table}
    finally:
        server.shutdown()
        server.server_close()


def test_download_verified_into_cache_then_reused(mirror, capsys):
    ds = load_dataset("cifar10")
    assert "downloaded" in ds.source and ds.x_train.shape == (5 * RECORDS, 3, 32, 32)
    err = capsys.readouterr().err
    assert f"downloading {mirror['base']}cifar10/{cifar.ARCHIVE}" in err
    rc, out, err = run_cli(capsys, "data", "fetch", "svhn")
    assert rc == 0 and "svhn: 2 files verified" in out, err
    assert cache_files(mirror["cache"]) == ["datasets/cifar10/cifar-10-binary.tar.gz",
                                            "datasets/svhn/test_32x32.mat", "datasets/svhn/train_32x32.mat"]
    # Found in the cache from now on: the mirror is not needed.
    for p in mirror["served"].rglob("*.*"):
        p.unlink()
    assert "(cache)" in load_dataset("cifar10").source and "(cache)" in load_dataset("svhn").source
    rc, out, err = run_cli(capsys, "data", "verify", "svhn")
    assert rc == 0 and out.count("OK ") == 2 and "all 2 files match" in out, err


def test_file_urls_work(mirror, monkeypatch):
    monkeypatch.setenv(sources.MIRRORS_ENV, mirror["served"].as_uri() + "/{name}")
    assert len(load_dataset("svhn").y_test) == 5


def test_checksum_mismatch_is_one_line_and_saves_nothing(mirror, monkeypatch, capsys):
    monkeypatch.setitem(archives.SHA256, "cifar10", {cifar.ARCHIVE: "0" * 64})
    rc, out, err = run_cli(capsys, "data", "fetch", "cifar10")
    assert rc == 2 and "Traceback" not in err
    errors = [ln for ln in err.splitlines() if "latentatlas: error:" in ln]   # stderr also has the progress bar
    assert len(errors) == 1 and err.rstrip().endswith(errors[0].split("latentatlas: error:")[-1])
    assert "checksum mismatch (SHA-256 of the file is" in errors[0] and cifar.ARCHIVE in errors[0]
    assert cache_files(mirror["cache"]) == []


def test_dropped_connection_leaves_no_file(mirror, monkeypatch):
    monkeypatch.setenv(sources.MIRRORS_ENV, mirror["base"] + "short/{name}/")
    with pytest.raises(UserError, match="could not download svhn"):
        archives.download("svhn", progress=False)
    assert cache_files(mirror["cache"]) == []


def test_second_mirror_used_and_bad_cached_copy_replaced(mirror, monkeypatch):
    monkeypatch.setenv(sources.MIRRORS_ENV, mirror["base"] + "missing/," + mirror["base"] + "{name}/")
    cached = mirror["cache"] / "datasets" / "svhn" / "test_32x32.mat"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"stale")
    loc = archives.download("svhn", progress=False)
    assert sha256(loc.paths["test"]) == mirror["table"]["svhn"]["test_32x32.mat"]


def test_verify_archive_folder_and_tampered_file(tmp_path, monkeypatch, capsys):
    archive = write_cifar_archive(tmp_path / "a")
    monkeypatch.setitem(archives.SHA256, "cifar10", {cifar.ARCHIVE: sha256(archive)})
    rc, out, err = run_cli(capsys, "data", "verify", "cifar10", "--data-dir", tmp_path / "a")
    assert rc == 0 and out.startswith("OK ") and "all 1 files match" in out, err
    write_cifar_folder(tmp_path / "b" / cifar.FOLDER)
    rc, out, err = run_cli(capsys, "data", "verify", "cifar10", "--data-dir", tmp_path / "b")
    assert rc == 0 and "no published SHA-256" in out and "0 of 1 files checked" in out, err
    archive.write_bytes(archive.read_bytes() + b"\0")
    rc, out, err = run_cli(capsys, "data", "verify", "cifar10", "--data-dir", tmp_path / "a")
    assert_one_line_error(rc, err, str(archive), "checksum mismatch", "SHA-256 of the file is")


def test_not_found_anywhere_names_the_places_and_files(capsys):
    rc, out, err = run_cli(capsys, "data", "info", "svhn")
    assert_one_line_error(rc, err, "dataset 'svhn' not found", "(cache: no such folder)", "(system:",
                          "download failed", "train_32x32.mat and test_32x32.mat")


def test_data_list_shows_the_colour_datasets(tmp_path, capsys):
    write_cifar_archive(tmp_path / "cifar10")
    rc, out, err = run_cli(capsys, "data", "list", "--data-dir", tmp_path)
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln and not ln.startswith(" ")}
    assert rc == 0 and str(tmp_path / "cifar10") in lines["cifar10"], err
    assert "not found" in lines["svhn"] and "not found" in lines["mnist-color"]


def test_official_sources_are_configured(monkeypatch):
    monkeypatch.delenv(sources.MIRRORS_ENV)
    remote = archives.REMOTES["cifar10"]
    assert [b + f for b in sources.mirror_bases("cifar10", list(remote.mirrors)) for f in remote.files.values()] \
        == ["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"]
    svhn = archives.REMOTES["svhn"]
    assert sources.mirror_bases("svhn", list(svhn.mirrors)) == ["http://ufldl.stanford.edu/housenumbers/"]
    assert sorted(archives.SHA256["svhn"]) == sorted(svhn.files.values())
    assert all(re.fullmatch("[0-9a-f]{64}", h) for t in archives.SHA256.values() for h in t.values())


# -- mnist-color ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def color_and_grey(full_data_dir):
    return (load_dataset("mnist-color", data_dir=full_data_dir, download=False),
            load_dataset("mnist", data_dir=full_data_dir, download=False))


def test_mnist_color_shape_labels_and_hues(color_and_grey):
    ds, grey = color_and_grey
    assert ds.name == "mnist-color" and ds.channels == 3 and ds.image_shape == (28, 28)
    assert ds.x_train.shape == (60000, 3, 28, 28) and ds.x_test.shape == (10000, 3, 28, 28)
    assert ds.x_train.dtype == np.uint8 and ds.class_names == [str(d) for d in range(10)]
    np.testing.assert_array_equal(ds.y_train, grey.y_train)
    for split, n in (("train", 60000), ("test", 10000)):
        hue = getattr(ds, f"factors_{split}")["hue"]
        assert hue.shape == (n,) and hue.min() >= 0.0 and hue.max() < 1.0
        assert np.histogram(hue, bins=6, range=(0, 1))[0].min() > n / 6 * 0.9   # spread over the circle
    assert not np.array_equal(ds.factors_train["hue"][:100], ds.factors_test["hue"][:100])


def test_mnist_color_is_one_fixed_dataset(color_and_grey, full_data_dir):
    ds, _ = color_and_grey
    again = load_dataset("mnist-color", data_dir=full_data_dir, download=False)
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    np.testing.assert_array_equal(again.factors_train["hue"], ds.factors_train["hue"])
    np.testing.assert_array_equal(mnist_color.hues(60000, "train"), ds.factors_train["hue"])


def test_mnist_color_tint_matches_its_hue(color_and_grey):
    ds, grey = color_and_grey
    for i in (0, 1, 12345, 59999):
        hue = ds.factors_train["hue"][i]
        rgb = np.array(colorsys.hsv_to_rgb(hue, 1.0, 1.0))
        g = grey.x_train[i, 0].astype(float)                             # (28, 28)
        expected = g[None] * rgb[:, None, None]                          # (3, 28, 28)
        assert np.abs(ds.x_train[i].astype(float) - expected).max() <= 0.5 + 1e-6
        # The brightest channel carries the stroke unchanged; black stays black.
        np.testing.assert_array_equal(ds.x_train[i].max(axis=0), grey.x_train[i, 0])


def test_mnist_color_subset_keeps_hues_aligned(color_and_grey, full_data_dir):
    ds, _ = color_and_grey
    sub = load_dataset("mnist-color", data_dir=full_data_dir, download=False, classes="1,4,8")
    keep = np.isin(ds.y_test, [1, 4, 8])
    np.testing.assert_array_equal(sub.factors_test["hue"], ds.factors_test["hue"][keep])
    np.testing.assert_array_equal(sub.x_test, ds.x_test[keep])


def test_mnist_color_without_mnist_says_what_it_needs(tmp_path, capsys):
    rc, out, err = run_cli(capsys, "data", "info", "mnist-color", "--data-dir", tmp_path, "--no-download")
    assert_one_line_error(rc, err, "mnist-color is built from the MNIST files", "not found in --data-dir")


def test_tint_is_vectorised_and_exact_on_small_input():
    grey = np.array([[[0, 128], [255, 64]]], np.uint8)[:, None]                 # (1, 1, 2, 2)
    out = mnist_color.tint(grey, np.array([1 / 6]))                              # yellow: (1, 1, 0)
    np.testing.assert_array_equal(out[0], [[[0, 128], [255, 64]], [[0, 128], [255, 64]], [[0, 0], [0, 0]]])
