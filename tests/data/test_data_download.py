"""Downloads, checksums and atomic writes, against a local HTTP server (never the network)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import run_cli
from latentatlas.data import load_dataset, load_dataset_or_sample, sources
from latentatlas.data.idx import encode_idx
from latentatlas.errors import UserError


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files; under /short/ it promises more bytes than it sends (a dropped connection)."""

    def log_message(self, *args):   # keep pytest output clean
        pass

    def do_GET(self):
        if self.path.startswith("/short/"):
            real = Path(self.directory) / self.path[len("/short/"):]
            body = real.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + 1000))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local mirror serving small generated mnist files at http://127.0.0.1:PORT/<name>/.

    The checksum table is replaced by the SHA-256 of those files' decompressed bytes.
    """
    served = tmp_path / "served"
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(40) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(10) % 10).astype(np.uint8),
    }
    table = {}
    for shift, name in enumerate(("mnist", "fashion-mnist")):
        (served / name).mkdir(parents=True)
        for key, arr in arrays.items():
            # The two datasets must differ: the loader refuses one's files under the other's name.
            raw = encode_idx((arr + shift) % 10 if key.startswith("y") else arr)
            (served / name / (sources.FILES[key] + ".gz")).write_bytes(gzip.compress(raw))
            table.setdefault(name, {})[sources.FILES[key]] = hashlib.sha256(raw).hexdigest()
    monkeypatch.setattr(sources, "SHA256", table)
    monkeypatch.delenv("LATENTATLAS_DATA", raising=False)
    monkeypatch.setattr(sources, "SYSTEM_DIRS", [tmp_path / "no-system"])
    cache = tmp_path / "cache"
    monkeypatch.setenv("LATENTATLAS_CACHE", str(cache))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_Handler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    monkeypatch.setenv(sources.MIRRORS_ENV, base + "{name}/")
    try:
        yield {"base": base, "served": served, "cache": cache, "arrays": arrays, "table": table}
    finally:
        server.shutdown()
        server.server_close()


def cache_files(cache: Path) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()) if cache.exists() else []




def test_download_verified_into_cache_then_reused(mirror):
    ds = load_dataset("mnist")
    np.testing.assert_array_equal(ds.x_train, mirror["arrays"]["x_train"][:, None])   # (N, 1, H, W)
    assert "downloaded" in ds.source
    assert cache_files(mirror["cache"]) == sorted(f"datasets/mnist/{s}.gz" for s in sources.FILES.values())
    # Second time: found in the cache, no network needed.
    shutil.rmtree(mirror["served"] / "mnist")
    ds2 = load_dataset("mnist")
    assert "(cache)" in ds2.source


def test_second_mirror_used_when_first_fails(mirror, monkeypatch):
    monkeypatch.setenv(sources.MIRRORS_ENV, mirror["base"] + "missing/," + mirror["base"] + "{name}/")
    ds = load_dataset("fashion-mnist")
    assert ds.class_names[0] == "T-shirt/top" and len(ds.y_train) == 40


def test_file_urls_work(mirror, monkeypatch):
    monkeypatch.setenv(sources.MIRRORS_ENV, mirror["served"].as_uri() + "/{name}/")
    assert len(load_dataset("mnist").y_test) == 10


def test_checksum_mismatch_saves_nothing(mirror, monkeypatch, capsys):
    bad = dict(mirror["table"]["mnist"])
    bad["t10k-images-idx3-ubyte"] = "0" * 64
    monkeypatch.setitem(sources.SHA256, "mnist", bad)
    rc, out, err = run_cli(capsys, "data", "fetch", "mnist")
    assert rc == 2 and "Traceback" not in err
    # stderr also carries the progress bars (tqdm, carriage returns); the error is one line, last.
    errors = [ln for ln in err.splitlines() if "latentatlas: error:" in ln]
    assert len(errors) == 1 and err.rstrip().endswith(errors[0].split("latentatlas: error:")[-1])
    assert "checksum mismatch" in errors[0] and "t10k-images-idx3-ubyte.gz" in errors[0]
    files = cache_files(mirror["cache"])
    assert "datasets/mnist/t10k-images-idx3-ubyte.gz" not in files
    assert not any(f.endswith(".part") for f in files)
    # The two files fetched before it are complete and verified; the set is incomplete, so not "found".
    assert not sources.locate("mnist").found


def test_dropped_connection_leaves_no_file(mirror, monkeypatch):
    monkeypatch.setenv(sources.MIRRORS_ENV, mirror["base"] + "short/{name}/")
    with pytest.raises(UserError, match="could not download mnist"):
        sources.download("mnist", progress=False)
    assert cache_files(mirror["cache"]) == []


def test_interrupted_download_leaves_no_file(mirror, monkeypatch):
    import tqdm.auto

    def interrupt(self, n=1):
        raise KeyboardInterrupt

    monkeypatch.setattr(tqdm.auto.tqdm, "update", interrupt)
    with pytest.raises(KeyboardInterrupt):
        sources.download("mnist", progress=False)
    assert cache_files(mirror["cache"]) == []


def test_corrupt_cached_file_is_fetched_again(mirror):
    sources.download("mnist", progress=False)
    target = mirror["cache"] / "datasets" / "mnist" / "train-labels-idx1-ubyte.gz"
    target.write_bytes(gzip.compress(b"garbage"))
    sources.download("mnist", progress=False)
    assert sources.sha256_decompressed(target) == mirror["table"]["mnist"]["train-labels-idx1-ubyte"]


def test_fetch_and_verify_commands(mirror, capsys):
    rc, out, err = run_cli(capsys, "data", "fetch", "mnist")
    assert rc == 0, err
    assert "4 files verified" in out
    rc, out, err = run_cli(capsys, "data", "fetch", "mnist")
    assert rc == 0 and "already present" in out
    rc, out, err = run_cli(capsys, "data", "verify", "mnist")
    assert rc == 0 and out.count("OK ") == 4
    # One flipped byte in the decompressed content: exit 2, the file named.
    target = mirror["cache"] / "datasets" / "mnist" / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(target.read_bytes()))
    raw[500] ^= 0x01
    target.write_bytes(gzip.compress(bytes(raw)))
    rc, out, err = run_cli(capsys, "data", "verify", "mnist")
    assert rc == 2
    assert err.strip().count("\n") == 0 and str(target) in err and "checksum mismatch" in err
    assert out.count("OK ") == 3 and "BAD" in out


def test_fetch_unknown_or_embedded(mirror, capsys):
    for name in ("mnist-sample", "imagenet"):
        rc, out, err = run_cli(capsys, "data", "fetch", name)
        assert rc == 2 and "only mnist, fashion-mnist" in err and err.count("\n") == 1


def test_fallback_downloads_full_mnist_when_a_mirror_answers(mirror):
    ds, note = load_dataset_or_sample()
    assert ds.name == "mnist" and "downloaded" in note and len(ds.y_train) == 40


def test_official_mirrors_are_configured(monkeypatch):
    monkeypatch.delenv(sources.MIRRORS_ENV, raising=False)
    assert sources.mirror_bases("mnist") == ["https://ossci-datasets.s3.amazonaws.com/mnist/",
                                             "https://storage.googleapis.com/cvdf-datasets/mnist/"]
    assert sources.mirror_bases("fashion-mnist") == ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]


def test_real_files_verify_and_flipped_byte_fails(full_data_dir, tmp_path, capsys):
    rc, out, err = run_cli(capsys, "data", "verify", "mnist", "--data-dir", full_data_dir)
    assert rc == 0 and out.count("OK ") == 4, err
    copy = tmp_path / "mnist"
    shutil.copytree(full_data_dir / "mnist", copy)
    labels = copy / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[-1] = (raw[-1] + 1) % 10
    labels.unlink()
    (copy / "t10k-labels-idx1-ubyte").write_bytes(bytes(raw))   # uncompressed is accepted too
    rc, out, err = run_cli(capsys, "data", "verify", "mnist", "--data-dir", tmp_path)
    assert rc == 2 and "t10k-labels-idx1-ubyte" in err and "checksum mismatch" in err
    assert err.count("\n") == 1


def test_embedded_sample_verifies(capsys):
    rc, out, err = run_cli(capsys, "data", "verify", "mnist-sample")
    assert rc == 0 and out.count("OK ") == 2, err


def test_real_files_from_a_local_mirror_pass_the_real_checksums(full_data_dir, tmp_path, monkeypatch):
    """The shipped SHA-256 table and file layout match the official files (served by file://)."""
    monkeypatch.delenv("LATENTATLAS_DATA", raising=False)
    monkeypatch.setattr(sources, "SYSTEM_DIRS", [tmp_path / "no-system"])
    monkeypatch.setenv("LATENTATLAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(sources.MIRRORS_ENV, full_data_dir.as_uri() + "/{name}/")
    loc = sources.download("mnist", progress=False)
    assert all(ok for _, ok, _, _ in sources.verify_files("mnist", loc.paths))
    ds = load_dataset("mnist")
    assert ds.x_train.shape == (60000, 1, 28, 28) and "(cache)" in ds.source
