"""IDX reading/writing, and every bad IDX input ending in one line, exit 2, nothing written."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import run_cli, assert_one_line_error, snapshot
from latentatlas.data.idx import encode_idx, parse_idx, read_idx, write_idx
from latentatlas.errors import UserError
from idx_helpers import make_idx_dataset



# -- round trips ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_encode_parse_round_trip(dtype):
    arr = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    back = parse_idx(encode_idx(arr))
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, arr)


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_write_read_gzip_or_not(tmp_path, name):
    arr = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = write_idx(tmp_path / name, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    np.testing.assert_array_equal(read_idx(path, ndim=3), arr)


def test_gzip_detected_by_content_not_name(tmp_path):
    arr = np.arange(10, dtype=np.uint8)
    path = write_idx(tmp_path / "labels-no-suffix", arr, compress=True)
    np.testing.assert_array_equal(read_idx(path), arr)


def test_header_layout_is_big_endian():
    data = encode_idx(np.zeros((3, 2), dtype=np.uint8))
    assert data[:4] == bytes([0, 0, 0x08, 2])
    assert data[4:12] == (3).to_bytes(4, "big") + (2).to_bytes(4, "big")
    assert len(data) == 12 + 6


def test_gzip_output_is_deterministic(tmp_path):
    arr = np.arange(100, dtype=np.uint8)
    a = write_idx(tmp_path / "a.gz", arr).read_bytes()
    b = write_idx(tmp_path / "b.gz", arr).read_bytes()
    assert a == b


def test_wrong_ndim_is_user_error(tmp_path):
    path = write_idx(tmp_path / "labels", np.zeros(4, dtype=np.uint8))
    with pytest.raises(UserError, match="expected an image file"):
        read_idx(path, ndim=3)


# -- bad IDX inputs, through the CLI ---------------------------------------------------------

def _corrupt(paths: dict, kind: str) -> tuple[Path, str]:
    """Damage one file of a valid dataset; returns (damaged file, words the error must contain)."""
    if kind == "wrong magic":
        p = paths["x_train"]
        raw = bytearray(gzip.decompress(p.read_bytes()))
        raw[2] = 0x42
        p.write_bytes(gzip.compress(bytes(raw)))
        return p, "wrong magic number"
    if kind == "dims vs bytes":
        p = paths["x_test"]
        raw = gzip.decompress(p.read_bytes())
        p.write_bytes(gzip.compress(raw[:-100]))   # header still says 20x28x28
        return p, "dimensions 20x28x28 need 15680 bytes"
    if kind == "extra bytes":
        p = paths["x_test"]
        p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes()) + b"\0\0\0"))
        return p, "extra bytes"
    if kind == "truncated gzip":
        p = paths["x_train"]
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])
        return p, "truncated gzip"
    if kind == "corrupt gzip":
        p = paths["y_train"]
        data = bytearray(p.read_bytes())
        data[-6] ^= 0xFF           # inside the CRC32 trailer
        p.write_bytes(bytes(data))
        return p, "corrupt gzip"
    if kind == "count mismatch":
        p = paths["y_train"]
        write_idx(p, np.zeros(29, dtype=np.uint8))
        return p, "holds 29 labels but train-images-idx3-ubyte.gz holds 30 images"
    if kind == "label out of range":
        p = paths["y_test"]
        labels = np.zeros(20, dtype=np.uint8)
        labels[7] = 12
        write_idx(p, labels)
        return p, "label 12 is out of range"
    if kind == "swapped files":
        p = paths["y_test"]
        write_idx(p, np.zeros((20, 28, 28), dtype=np.uint8))
        return p, "expected a label file"
    if kind == "empty file":
        p = paths["y_test"]
        p.write_bytes(b"")
        return p, "not an IDX file"
    raise AssertionError(kind)


BAD_KINDS = ["wrong magic", "dims vs bytes", "extra bytes", "truncated gzip", "corrupt gzip",
             "count mismatch", "label out of range", "swapped files", "empty file"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_idx_file_one_line_exit_2_nothing_written(tmp_path, capsys, kind):
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    _, paths = make_idx_dataset(folder)
    bad, words = _corrupt(paths, kind)
    cache = Path(os.environ["LATENTATLAS_CACHE"])
    before = snapshot(tmp_path, cache)
    rc, out, err = run_cli(capsys, "data", "info", "mnist", "--data-dir", tmp_path / "data")
    assert_one_line_error(rc, err, str(bad), words)
    assert out == ""
    assert snapshot(tmp_path, cache) == before


def test_uncompressed_files_read_too(tmp_path, capsys):
    make_idx_dataset(tmp_path, gz=False)
    rc, out, err = run_cli(capsys, "data", "info", "mnist", "--data-dir", tmp_path, "--json")
    assert rc == 0, err
    import json

    d = json.loads(out)
    assert d["train"]["images"] == 30 and d["test"]["images"] == 20
    assert d["train"]["class_counts"] == [3] * 10
    assert str(tmp_path) in d["source"]
