"""`latentatlas explore`: the API, its input checks, the token and Host guard, the server's life.

One tiny 2-d VAE run (mnist-sample, 1 epoch on 1,000 images) serves every test;
the views are PCA and the latent itself, so no slow projection runs.
"""

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from latentatlas.cli import main as cli_main

starlette_testclient = pytest.importorskip("starlette.testclient")


def make_run(path, latent_dim=2):
    assert cli_main(["train", "--dataset", "mnist-sample", "--epochs", "1", "--max-train-images", "1000",
                     "--latent-dim", str(latent_dim), "--threads", "1", "--out", str(path)]) == 0
    assert cli_main(["encode", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def run2d(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("explore") / "run2d")


@pytest.fixture(scope="module")
def state(run2d):
    from latentatlas.explore.state import ExploreState

    return ExploreState.load(run2d, views=["pca", "latent"], progress=False)


@pytest.fixture(scope="module")
def policy():
    from latentatlas.explore.security import Limits, Policy

    p = Policy.for_host("127.0.0.1")
    p.limits = Limits(max_body=200_000)   # small enough to test the bound with a modest body
    return p


def _client_of(state, policy):
    """A test client of the explorer's app for `state`, carrying the policy's token."""
    from latentatlas.explore.server import create_app

    c = starlette_testclient.TestClient(create_app(state, policy), base_url="http://127.0.0.1:8765",
                                        raise_server_exceptions=False)
    c.headers["X-Explore-Token"] = policy.token
    return c


@pytest.fixture(scope="module")
def client(state, policy):
    return _client_of(state, policy)


def bare(client):
    """A client to the same app without the token header (and no cookies)."""
    return starlette_testclient.TestClient(client.app, base_url="http://127.0.0.1:8765",
                                           raise_server_exceptions=False)


def points_of(client, view) -> dict:
    """GET /api/points, unpacked (packing.py): the head's fields and each column as a list."""
    from latentatlas.explore.packing import unpack

    r = client.get(f"/api/points?view={view}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    head, cols = unpack(r.content)
    return {**head, **{k: v.tolist() for k, v in cols.items()}}


def png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def uri_pixels(uri: str) -> np.ndarray:
    import base64

    head, b64 = uri.split(",", 1)
    assert head in ("data:image/png;base64", "data:image/gif;base64")
    return png_pixels(base64.b64decode(b64))


# ------------------------------------------------------------------ token and Host
def test_missing_token_is_refused(client):
    r = bare(client).get("/api/meta")
    assert r.status_code == 401 and "token" in r.json()["error"]


def test_wrong_token_is_refused_in_every_place(client):
    c = bare(client)
    assert c.get("/api/meta", headers={"X-Explore-Token": "nope"}).status_code == 403
    assert c.get("/api/meta?token=nope").status_code == 403
    assert c.get("/api/meta", headers={"Authorization": "token nope"}).status_code == 403
    assert c.get("/api/meta", headers={"Cookie": "latentatlas_explore_8765=nope"}).status_code == 403
    assert c.get("/api/image/0?token=").status_code == 401


def test_token_in_query_header_authorization_and_cookie(client, policy):
    c = bare(client)
    assert c.get("/api/meta", headers={"Authorization": f"token {policy.token}"}).status_code == 200
    r = c.get(f"/?token={policy.token}")
    assert r.status_code == 200 and "<title>latentatlas explore</title>" in r.text
    assert "latentatlas_explore_8765=" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    assert c.get("/api/meta").status_code == 200          # the cookie the page load set
    assert "content-security-policy" in r.headers


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example", "", "192.168.1.5"])
def test_foreign_host_header_is_refused(client, host):
    r = client.get("/api/meta", headers={"Host": host})
    assert r.status_code == 403 and "host" in r.json()["error"]


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "LOCALHOST", "[::1]:8765"])
def test_loopback_host_headers_pass(client, host):
    assert client.get("/api/meta", headers={"Host": host}).status_code == 200


def test_policy_for_another_host_allows_that_host_and_extra_names():
    from latentatlas.explore.security import Policy

    p = Policy.for_host("0.0.0.0", ["box.lan"])
    assert {"0.0.0.0", "box.lan", "localhost", "127.0.0.1", "::1"} <= p.allowed_hosts
    assert len(p.token) >= 32 and p.token != Policy.for_host("127.0.0.1").token


# ------------------------------------------------------------------ what the page reads
def test_meta_describes_views_classes_and_colourings(client, state):
    m = client.get("/api/meta").json()
    assert m["latent_dim"] == 2 and m["n_points"] == state.n == m["n_train"] + m["n_test"]
    assert [v["name"] for v in m["views"]] == ["pca", "latent"]
    assert m["views"][1]["rules"][0] == "exact"
    assert sum(m["class_counts"]) == state.n and len(m["class_names"]) == 10
    assert {c["name"]: c["available"] for c in m["colourings"]} == {
        "class": True, "cluster": True, "probe_error": True, "variance": True,
        "recon_error": True, "kl": True, "z0": True, "z1": True}
    assert m["sliders"]["basis"] == "dims" and len(m["sliders"]["vectors"]) == 2


@pytest.mark.parametrize("view", ["pca", "latent"])
def test_points_cover_every_code(client, state, view):
    p = points_of(client, view)
    assert p["n"] == state.n and sorted(p["index"]) == list(range(state.n))
    assert len(p["x"]) == len(p["label"]) == len(p["cluster"]) == len(p["probe_error"]) == len(p["variance"]) == state.n
    if view == "latent":
        rows = np.asarray(p["index"])
        np.testing.assert_allclose(np.column_stack([p["x"], p["y"]]), state.codes[rows], rtol=1e-4, atol=1e-5)
    assert p["label"] == state.labels[np.asarray(p["index"])].tolist()


def field_of(client, view, name) -> tuple[dict, np.ndarray]:
    from latentatlas.explore.packing import unpack

    r = client.get(f"/api/field?view={view}&name={name}")
    assert r.status_code == 200, r.text
    head, cols = unpack(r.content)
    return head, cols[name]


def test_colour_by_reconstruction_error_kl_and_each_latent_dimension(client, state, run2d):
    import torch

    rows = np.asarray(points_of(client, "pca")["index"])
    head, kl = field_of(client, "pca", "kl")
    mu, sigma = torch.from_numpy(state.codes[rows]), torch.exp(0.5 * torch.from_numpy(state.logvar[rows]))
    want = torch.distributions.kl_divergence(torch.distributions.Normal(mu, sigma),
                                             torch.distributions.Normal(0.0, 1.0)).sum(dim=1).numpy()
    np.testing.assert_allclose(kl, want, rtol=1e-4, atol=1e-5)
    assert head["categories"] is None and kl.dtype == np.float32
    np.testing.assert_array_equal(field_of(client, "pca", "z1")[1], state.codes[rows, 1])
    _, err = field_of(client, "pca", "recon_error")
    with torch.inference_mode():           # the error of five points, computed here from the model itself
        x = state.model.decode(torch.from_numpy(state.codes[rows[:5]])).numpy()[:, 0]
    want = ((x - state.images[rows[:5]] / 255.0) ** 2).mean(axis=(1, 2))
    np.testing.assert_allclose(err[:5], want, rtol=1e-4)
    assert err.min() >= 0 and err.std() > 0
    from latentatlas.rundir import RunDir

    np.testing.assert_array_equal(RunDir(run2d).read_maps()["recon_error"][rows], err)    # saved for the next start
    for query in ("view=pca&name=nope", "view=pca&name=z2", "view=pca", "name=kl", "view=umap&name=kl"):
        r = client.get(f"/api/field?{query}")
        assert r.status_code == 400 and len(r.json()["error"].splitlines()) == 1, query


def test_user_columns_from_a_csv_colour_the_map(client, state, tmp_path, monkeypatch):
    from latentatlas.explore.columns import BLANK, read_columns
    from latentatlas.explore.fields import Fields

    csv = tmp_path / "mine.csv"
    csv.write_text("index,score,batch\n3,0.5,b\n1,-2e3,a\n7,,a\n")
    cols = read_columns(csv, state.n)
    monkeypatch.setattr(state, "fields", Fields(state, cols))
    meta = {c["name"]: c["kind"] for c in client.get("/api/meta").json()["colourings"]}
    assert meta["col_score"] == "continuous" and meta["col_batch"] == "category"
    rows = np.asarray(points_of(client, "pca")["index"])
    _, score = field_of(client, "pca", "col_score")
    by_point = dict(zip(rows.tolist(), score.tolist()))
    assert (by_point[3], by_point[1]) == (0.5, -2000.0) and np.isnan(by_point[7]) and np.isnan(by_point[0])
    head, batch = field_of(client, "pca", "col_batch")
    names = [head["categories"][c] for c in batch.tolist()]
    by_point = dict(zip(rows.tolist(), names))
    assert (by_point[3], by_point[1], by_point[7], by_point[0]) == ("b", "a", "a", BLANK)


@pytest.mark.parametrize("text, words", [
    ("", "header row"), ("a,b\n1\n", "line 2 has 1 fields"), ("index,a\n1,2\n1,3\n", "twice"),
    ("index,a\n99999999,1\n", "out of range"), ("index,a\n-1,1\n", "non-negative"),
    ("a,a\n1,2\n", "twice"), ("a\n1\n2\n", "2 rows, but the run has"), (",a\n1,2\n", "needs a name"),
    ("index\n1\n", "no column besides index"), (b"a\n\xff\xfe\n", "UTF-8")])
def test_bad_columns_csv_is_one_line(tmp_path, text, words):
    from latentatlas.errors import UserError
    from latentatlas.explore.columns import read_columns

    path = tmp_path / "bad.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(UserError, match=words) as exc:
        read_columns(path, 1000)
    assert len(str(exc.value).splitlines()) == 1 and str(path) in str(exc.value)


def test_cli_bad_columns_csv_exits_2_with_one_line(run2d, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("score\n1\n2\n")
    assert cli_main(["explore", str(run2d), "--columns", str(bad), "--no-browser", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 rows, but the run has" in err[0]
    assert cli_main(["explore", str(run2d), "--columns", str(tmp_path / "none.csv"), "--no-browser"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_sprites_are_one_atlas_of_the_asked_images_in_order(client, state):
    from latentatlas.explore.sprites import MAX_SPRITES, layout

    ask = [5, 3, 900, 3, 0]
    r = client.post("/api/sprites", json={"indices": ask})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    sheet, (h, w) = png_pixels(r.content), state.images.shape[1:3]
    cols, nrows = layout(len(ask))
    assert sheet.shape[:2] == (nrows * h, cols * w)
    for k, i in enumerate(ask):
        rr, cc = divmod(k, cols)
        np.testing.assert_array_equal(sheet[rr * h:(rr + 1) * h, cc * w:(cc + 1) * w], state.images[i])
    for body, status in (({"indices": []}, 400), ({"indices": list(range(MAX_SPRITES + 1))}, 400),
                         ({"indices": [state.n]}, 404), ({"indices": ["1"]}, 400), ({}, 400)):
        assert client.post("/api/sprites", json=body).status_code == status, body


def test_image_is_the_dataset_image(client, state):
    r = client.get("/api/image/7")
    assert r.headers["content-type"] == "image/png"
    np.testing.assert_array_equal(png_pixels(r.content), state.images[7])


def test_point_has_reconstruction_probe_and_neighbours(client, state):
    p = client.get("/api/point/3?k=5").json()
    assert p["index"] == 3 and p["class"] == state.class_names[state.labels[3]]
    assert len(p["neighbours"]) == 5 and 3 not in [n["index"] for n in p["neighbours"]]
    dists = [n["distance"] for n in p["neighbours"]]
    assert dists == sorted(dists)
    brute = np.argsort(np.linalg.norm(state.codes - state.codes[3], axis=1))[1:6]
    assert sorted(n["index"] for n in p["neighbours"]) == sorted(brute.tolist())
    np.testing.assert_array_equal(uri_pixels(p["reconstruction"]), state.decode(state.codes[3][None])[0])


# ------------------------------------------------------------------ decoding and the inverse rule
def test_decode_on_the_latent_view_is_exact_and_matches_the_python_api(client, state):
    from latentatlas.models.codec import decode_codes

    r = client.post("/api/decode", json={"view": "latent", "x": 0.25, "y": -0.5}).json()
    assert r["rule"].startswith("exact") and r["code"] == [0.25, -0.5]
    expect = decode_codes(state.model, np.asarray([[0.25, -0.5]], np.float32))[0]
    got = uri_pixels(r["image"]).astype(np.float32) / 255
    assert np.abs(got - expect).max() <= 1 / 255 + 1e-6


def test_decode_idw_on_a_point_returns_its_code(client, state):
    p = points_of(client, "pca")
    r = client.post("/api/decode", json={"view": "pca", "x": p["x"][4], "y": p["y"][4]}).json()
    assert r["rule"].startswith("idw")
    # coordinates travel rounded to 5 digits, so the nearest code, not necessarily bit-equal
    i = p["index"][4]
    assert np.linalg.norm(np.asarray(r["code"]) - state.codes[i]) < 0.05 * np.linalg.norm(state.codes.std(0)) + 1e-3


def test_decode_idw_between_points_mixes_the_nearest_codes(client, state):
    view = state.views["pca"]
    x, y = view.xy[:, 0].mean() + 1e-3, view.xy[:, 1].mean() + 1e-3
    r = client.post("/api/decode", json={"view": "pca", "x": float(x), "y": float(y), "rule": "idw"}).json()
    d = np.linalg.norm(view.xy.astype(np.float64) - [x, y], axis=1)
    rows = np.argsort(d)[:8]
    w = 1 / d[rows] ** 2
    expect = (w[:, None] * state.codes[view.index[rows]]).sum(0) / w.sum()
    np.testing.assert_allclose(r["code"], expect, rtol=1e-4, atol=1e-5)
    assert sorted(r["mixed_points"]) == sorted(view.index[rows].tolist())


def test_decode_a_given_code(client, state):
    r = client.post("/api/decode", json={"code": [0.0, 1.0]}).json()
    np.testing.assert_array_equal(uri_pixels(r["image"]), state.decode(np.asarray([[0.0, 1.0]]))[0])


def test_walk_along_a_drawn_path_gives_a_strip_and_a_gif(client, state):
    r = client.post("/api/walk", json={"view": "latent", "path": [[-1, 0], [0, 0], [0, 1]], "steps": 5}).json()
    assert r["steps"] == 5 and r["rule"].startswith("exact")
    np.testing.assert_allclose(r["positions"], [[-1, 0], [-0.5, 0], [0, 0], [0, 0.5], [0, 1]], atol=1e-6)
    h, w = state.images.shape[1:3]
    assert uri_pixels(r["strip"]).shape == (h, 5 * w + 4 * 2)
    gif = Image.open(io.BytesIO(__import__("base64").b64decode(r["gif"].split(",", 1)[1])))
    assert gif.n_frames == 5


def test_walk_between_two_points_runs_in_latent_space(client, state):
    r = client.post("/api/walk", json={"a": 1, "b": 2, "steps": 3}).json()
    assert "latent space" in r["rule"]
    frames = state.decode(np.stack([state.codes[1], (state.codes[1] + state.codes[2]) / 2, state.codes[2]]))
    from latentatlas.explore.state import strip

    np.testing.assert_array_equal(uri_pixels(r["strip"]), strip(frames))


def test_traverse_decodes_along_one_dimension(client, state):
    r = client.post("/api/traverse", json={"index": 0, "dim": 1, "values": [-1, 0, 1]}).json()
    assert r["direction"] == "z1" and len(r["images"]) == 3
    np.testing.assert_array_equal(uri_pixels(r["images"][2]), state.decode(state.codes[0] + np.asarray([0, 1.0]))[0])


def test_select_counts_and_csv(client, state):
    idx = [5, 1, 9, 1, 30]
    r = client.post("/api/select", json={"indices": idx}).json()
    assert r["n"] == 4 and sum(r["counts"].values()) == 4
    for name, c in r["counts"].items():
        assert c == sum(state.class_names[state.labels[i]] == name for i in (1, 5, 9, 30))
    csv = client.post("/api/select.csv", json={"indices": idx})
    assert csv.headers["content-type"].startswith("text/csv")
    assert [int(line.split(",")[0]) for line in csv.text.strip().splitlines()[1:]] == [1, 5, 9, 30]


# ------------------------------------------------------------------ bad input: 4xx and one short line
BAD_POSTS = [
    ("/api/decode", {"code": [1.0]}, 400, "latent has 2"),
    ("/api/decode", {"code": [1.0, 2.0, 3.0]}, 400, "latent has 2"),
    ("/api/decode", {"code": ["a", "b"]}, 400, "number"),
    ("/api/decode", {"code": [True, 1]}, 400, "number"),
    ("/api/decode", {"code": "1,2"}, 400, "list"),
    ("/api/decode", {"view": "umap", "x": 0, "y": 0}, 400, "unknown view"),
    ("/api/decode", {"view": "../../etc/passwd", "x": 0, "y": 0}, 400, "unknown view"),
    ("/api/decode", {"view": "pca", "x": "1", "y": 0}, 400, "x must be a number"),
    ("/api/decode", {"view": "pca", "x": 0}, 400, "y must be a number"),
    ("/api/decode", {"view": "pca", "x": 0, "y": 0, "rule": "umap"}, 400, "unknown rule"),
    ("/api/decode", {}, 400, "send"),
    ("/api/walk", {"a": 0, "b": 10 ** 9}, 404, "out of range"),
    ("/api/walk", {"a": -1, "b": 2}, 404, "out of range"),
    ("/api/walk", {"a": 0, "b": 1, "steps": 1000}, 400, "steps"),
    ("/api/walk", {"view": "pca", "path": [[0, 0]]}, 400, "path"),
    ("/api/walk", {"view": "pca", "path": [[0, 0]] * 1001}, 400, "path"),
    ("/api/walk", {"view": "pca", "path": [[0, 0], [1]]}, 400, "pair"),
    ("/api/walk", {"view": "pca", "path": [[0, 0], [1, None]]}, 400, "number"),
    ("/api/traverse", {"index": 0, "dim": 5, "values": [1]}, 400, "dim"),
    ("/api/traverse", {"index": 0, "dim": 0, "values": list(range(100))}, 400, "values"),
    ("/api/traverse", {"dim": 0, "values": [1]}, 400, "index or code"),
    ("/api/select", {"indices": []}, 400, "indices"),
    ("/api/select", {"indices": [0, 1.5]}, 400, "integers"),
    ("/api/select", {"indices": [0, 99999999]}, 404, "out of range"),
    ("/api/select.csv", {"indices": "all"}, 400, "indices"),
]


@pytest.mark.parametrize("path,body,status,words", BAD_POSTS)
def test_bad_bodies_answer_4xx_with_one_line(client, path, body, status, words):
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert words in err and "\n" not in err and "Traceback" not in r.text


@pytest.mark.parametrize("raw", [b'{"code": [NaN, 1]}', b'{"code": [Infinity, 1]}', b'{"code": [-Infinity, 1]}',
                                 b'{"code": [1e999, 1]}', b'{"view": "pca", "x": 1e400, "y": 0}',
                                 b"{not json", b"[1, 2]", b"", b'"text"', b"\xff\xfe"])
def test_non_finite_and_malformed_json_answer_400(client, raw):
    r = client.post("/api/decode", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()


# Each kind of input below got a 500 (or, the last, a 200 with an image decoded from NaN)
# before every number was checked against the range the model can use.
HUGE = 10 ** 400                  # 401 digits: Python's json reads it; float() of it overflows
HOSTILE = {
    "huge integer in a code": ("/api/decode", {"code": [HUGE, 0]}),
    "huge integer in x": ("/api/decode", {"view": "pca", "x": HUGE, "y": 0}),
    "1e300 in a code": ("/api/decode", {"code": [1e300, 0]}),
    "1e300 in x (inverse-distance weights)": ("/api/decode", {"view": "pca", "x": 1e300, "y": 0}),
    "1e300 in y on the exact view": ("/api/decode", {"view": "latent", "x": 0, "y": 1e300}),
    "1e300 in a walk path": ("/api/walk", {"view": "pca", "path": [[0, 0], [1e300, 1]]}),
    "1e300 in a traverse value": ("/api/traverse", {"index": 0, "dim": 0, "values": [1e300]}),
    "huge integer in a traverse direction": ("/api/traverse", {"index": 0, "direction": [HUGE, 0], "values": [1]}),
    "index beyond int64 in select": ("/api/select", {"indices": [0, 2 ** 70]}),
    "index beyond int64 in select.csv": ("/api/select.csv", {"indices": [-(2 ** 70)]}),
    "deeply nested JSON (RecursionError)": ("/api/decode", b'{"code": ' + b"[" * 20000 + b"]" * 20000 + b"}"),
    "codes of 1e38 (the decoder gives NaN)": ("/api/decode", {"code": [1e38, 1e38]}),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_numbers_and_nesting_answer_4xx_and_the_server_serves_on(client, kind):
    path, body = HOSTILE[kind]
    r = (client.post(path, content=body, headers={"Content-Type": "application/json"}) if isinstance(body, bytes)
         else client.post(path, json=body))
    assert 400 <= r.status_code < 500, r.text
    err = r.json()["error"]
    assert "\n" not in err and len(err) < 200 and "Traceback" not in r.text
    assert client.post("/api/decode", json={"code": [0.5, 0.5]}).status_code == 200


def test_numbers_at_the_edge_of_the_range_answer_a_valid_image(client, state):
    """Every 200 is a valid result: the largest code and the farthest place still decode to pixels."""
    lim = state.code_limit
    (x0, x1), (y0, y1) = state.views["pca"].bounds
    for body in ({"code": [lim, -lim]}, {"view": "pca", "x": x1, "y": y0}, {"view": "latent", "x": x0 / 20, "y": 0}):
        r = client.post("/api/decode", json=body)
        assert r.status_code == 200, (body, r.text)
        assert uri_pixels(r.json()["image"]).shape == state.images.shape[1:]
        assert all(np.isfinite(r.json()["code"]))
    r = client.post("/api/decode", json={"code": [lim * 1.01, 0]})
    assert r.status_code == 400 and f"{lim:.4g}" in r.json()["error"]
    m = client.get("/api/meta").json()
    assert m["code_limit"] == lim and m["views"][0]["bounds"] == [[x0, x1], [y0, y1]]


def test_posts_need_a_json_content_type_and_this_servers_origin(client):
    r = client.post("/api/decode", content=b'{"code": [0, 0]}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "application/json" in r.json()["error"]
    r = client.post("/api/decode", data={"code": "0"})          # what an HTML form sends
    assert r.status_code == 415
    for origin in ("http://127.0.0.1:9999", "http://evil.example", "null", "http://127.0.0.1:8765.evil.example"):
        r = client.post("/api/decode", json={"code": [0, 0]}, headers={"Origin": origin})
        assert r.status_code == 403 and "Origin" in r.json()["error"], origin
    assert client.post("/api/decode", json={"code": [0, 0]}, headers={"Origin": "http://127.0.0.1:8765"}).status_code == 200
    assert client.get("/api/meta", headers={"Origin": "http://evil.example"}).status_code == 200   # GETs change nothing


def test_an_empty_token_header_does_not_hide_the_cookie(client, policy):
    """A reload without ?token=: the page has no token, the cookie has it."""
    c = bare(client)
    assert c.get(f"/?token={policy.token}").status_code == 200
    assert c.get("/api/meta", headers={"X-Explore-Token": ""}).status_code == 200
    assert c.get("/api/image/0?token=").status_code == 200
    other_port = starlette_testclient.TestClient(client.app, base_url="http://127.0.0.1:8766")
    other_port.cookies.set("latentatlas_explore_8765", policy.token)
    assert other_port.get("/api/meta").status_code == 401        # the cookie of another port's explorer


def test_full_work_queues_answer_503_with_the_reason(state):
    from latentatlas.explore.bounds import WorkQueue
    from latentatlas.explore.security import Bounds, Policy, RequestError

    queue = WorkQueue("decode requests", 2)
    with queue.slot(), queue.slot():
        with pytest.raises(RequestError, match="server busy: 2 decode requests"):
            with queue.slot():
                pass
    with queue.slot():              # the slots came back
        pass
    c = _client_of(state, Policy(allowed_hosts=frozenset({"127.0.0.1"}), bounds=Bounds(decodes=0)))
    r = c.post("/api/decode", json={"code": [0, 0]})
    assert r.status_code == 503 and "busy" in r.json()["error"] and r.headers["retry-after"]
    assert c.get("/api/meta").status_code == 200                 # what decodes nothing is still served


def test_slow_clients_are_cut_off_and_the_server_serves_on(state):
    """A connection that never finishes its request head is closed after header_seconds."""
    import socket
    import threading

    import uvicorn

    from latentatlas.explore.security import Bounds, Policy
    from latentatlas.explore.server import _listen, create_app, uvicorn_config

    policy = Policy.for_host("127.0.0.1")
    policy.bounds = Bounds(header_seconds=0.5, connections=8)
    sock = _listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn_config(create_app(state, policy), policy))
    srv.install_signal_handlers = lambda: None
    threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True).start()
    try:
        while not srv.started:
            time.sleep(0.02)
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /api/meta HTTP/1.1\r\nHost: 127.0.0.1\r\n")     # and never the blank line
        slow.settimeout(5)
        t0 = time.time()
        assert slow.recv(100) == b"" and time.time() - t0 < 3           # closed by the server
        import urllib.request

        url = f"http://127.0.0.1:{port}/api/meta?token={policy.token}"
        assert json.load(urllib.request.urlopen(url, timeout=5))["latent_dim"] == 2
    finally:
        srv.should_exit = True


def test_oversized_body_answers_413(client, policy):
    r = client.post("/api/select", json={"indices": [1] * 100_000})
    assert r.status_code == 413 and "bytes" in r.json()["error"]


@pytest.mark.parametrize("path,status", [("/api/image/100000000", 404), ("/api/image/-1", 400), ("/api/image/1.5", 400),
                                         ("/api/image/abc", 400), ("/api/point/999999", 404), ("/api/point/0?k=999", 400),
                                         ("/api/points", 400), ("/api/points?view=umap", 400), ("/static/../../x", 404),
                                         ("/static/secret.py", 404), ("/nope", 404), ("/api/image/" + "9" * 600, 414),
                                         ("/api/meta?" + "a" * 5000, 414)])
def test_bad_gets_answer_4xx_json(client, path, status):
    r = client.get(path)
    assert r.status_code == status and "error" in r.json()


def test_wrong_method_answers_405_json(client):
    r = client.get("/api/decode")
    assert r.status_code == 405 and "error" in r.json()


def test_unexpected_failure_is_a_short_500_not_a_traceback(client, state, monkeypatch, caplog):
    def broken(codes):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(state, "decode", broken)
    r = client.post("/api/decode", json={"code": [0, 0]})
    assert r.status_code == 500
    assert r.json() == {"error": "internal error (logged by the server)"}
    assert "secret" not in r.text and "Traceback" not in r.text
    assert "secret internal detail" in caplog.text        # logged on the server side


def test_static_files_are_hashed_gzipped_immutable_and_local(client):
    page = client.get("/")
    assert page.headers["cache-control"] == "no-store" and "http" not in re.sub(r"<!--.*?-->", "", page.text)
    names = re.findall(r'"static/([\w.]+)"', page.text)
    plotly = next(n for n in names if n.startswith("plotly.min."))
    assert re.fullmatch(r"plotly\.min\.[0-9a-f]{12}\.js", plotly) and any(n.startswith("explore.") for n in names)
    r = client.get(f"/static/{plotly}", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and "immutable" in r.headers["cache-control"]
    assert int(r.headers["content-length"]) < len(r.content) / 2     # httpx unzipped it: under half the size on the wire
    assert r.text.lstrip().startswith("/**")
    js = client.get("/static/explore.js", headers={"Accept-Encoding": "identity"})
    assert js.status_code == 200 and "content-encoding" not in js.headers and js.headers["cache-control"] == "no-cache"
    assert "scattergl" in js.text and "https://" not in js.text


# ------------------------------------------------------------------ maps.npz, views and the CLI
def test_saved_views_are_reused_not_recomputed(run2d, state, monkeypatch):
    from latentatlas.explore.state import ExploreState
    from latentatlas.rundir import RunDir

    assert "xy_pca" in RunDir(run2d).read_maps()

    def no(*a, **k):
        raise AssertionError("recomputed a saved view")

    monkeypatch.setattr(ExploreState, "_project", no)
    monkeypatch.setattr(ExploreState, "_cluster", no)
    again = ExploreState.load(run2d, views=["pca"], progress=False)
    np.testing.assert_array_equal(again.views["pca"].xy, state.views["pca"].xy)


def test_maps_from_an_older_latents_file_are_ignored(tmp_path):
    from latentatlas.rundir import RunDir

    rd = RunDir(tmp_path)
    (tmp_path / "latents.npz").write_bytes(b"one")
    rd.add_map("umap", np.zeros((3, 2)), [0, 1, 2])
    assert rd.read_maps()["idx_umap"].tolist() == [0, 1, 2]
    (tmp_path / "latents.npz").write_bytes(b"a newer encode")
    assert rd.read_maps() == {}


def test_unknown_or_impossible_views_are_user_errors(run2d):
    from latentatlas.errors import UserError
    from latentatlas.explore.state import resolve_views

    with pytest.raises(UserError, match="unknown view"):
        resolve_views(["bogus"], 2)
    with pytest.raises(UserError, match="2-d latent"):
        resolve_views(["latent"], 10)
    assert resolve_views(["auto"], 10) == ["pca", "lda", "umap"]
    assert resolve_views(["auto"], 2, n_classes=2) == ["latent", "pca", "umap"]


def test_cli_bad_port_and_missing_run_are_one_line_errors(tmp_path, capsys):
    assert cli_main(["explore", str(tmp_path / "nowhere"), "--no-browser", "--port", "0"]) != 0
    assert "does not exist" in capsys.readouterr().err
    assert cli_main(["explore", str(tmp_path), "--port", "70000"]) != 0
    assert "--port" in capsys.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_server_prints_url_answers_and_stops_on_a_signal(run2d, sig):
    """The real thing: uvicorn on a free port, a request over loopback, Ctrl-C or a service
    manager's SIGTERM (uvicorn raises it again after its shutdown), a clean exit 0 and a line."""
    import urllib.error
    import urllib.request

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "latentatlas", "explore", str(run2d), "--port", "0",
                             "--no-browser", "--views", "pca"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    try:
        url, lines, deadline = None, [], time.time() + 120
        while url is None and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+/\?token=[\w-]+)", line)
            url = m.group(1) if m else None
        assert url, "".join(lines)
        base, token = url.split("/?token=")
        meta = json.load(urllib.request.urlopen(f"{base}/api/meta?token={token}", timeout=10))
        assert meta["latent_dim"] == 2
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/api/meta", timeout=10)
        assert err.value.code == 401
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "stopped" in out and "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()


def test_notebook_iframe_points_at_a_live_server(run2d):
    import urllib.request

    from latentatlas.explore.notebook import explore_inline

    frame = explore_inline(run2d, views=["pca"], height=600)
    try:
        assert frame.src.startswith("http://127.0.0.1:") and "?token=" in frame.src and frame.height == 600
        page = urllib.request.urlopen(frame.src, timeout=10).read().decode()
        assert "latentatlas explore" in page
    finally:
        frame.server.should_exit = True


def test_analyze_saves_its_2d_views_for_the_explorer(run2d, tmp_path, monkeypatch):
    from latentatlas.settings import AnalysisConfig
    from latentatlas.explore.state import ExploreState
    from latentatlas.stages.analyze import analyze_run
    from latentatlas.rundir import RunDir

    run = tmp_path / "run"
    shutil.copytree(run2d, run)
    (run / "maps.npz").unlink()
    analyze_run(run, AnalysisConfig(projections=["lda:2"], projection_max_samples=3000, raw_baseline=False,
                                    probes=[], clusterers=[], interactive=False), verbose=False)
    maps = RunDir(run).read_maps()
    assert maps["xy_lda"].shape == (3000, 2) and len(np.unique(maps["idx_lda"])) == 3000

    def no(*a, **k):
        raise AssertionError("recomputed the view analyze saved")

    monkeypatch.setattr(ExploreState, "_project", no)
    state = ExploreState.load(run, views=["lda"], progress=False)
    assert state.views["lda"].source.startswith("saved") and len(state.views["lda"].index) == 3000


def test_wide_latents_slide_along_principal_directions():
    from latentatlas.explore.state import MAX_SLIDERS, ExploreState

    codes = np.random.default_rng(0).normal(size=(500, 24)).astype(np.float32) * np.linspace(3, 0.1, 24)
    state = ExploreState(None, None, codes, np.zeros(500, np.int64), ["a"], 400, "ae", np.zeros((500, 4, 4), np.uint8))
    basis = state._slider_basis()
    assert basis["basis"] == "pca" and len(basis["vectors"]) == MAX_SLIDERS and len(basis["vectors"][0]) == 24
    assert basis["scales"] == sorted(basis["scales"], reverse=True)
    assert abs(np.asarray(basis["vectors"][0])[0]) > 0.9          # the widest axis comes first


def test_colour_images_keep_their_channels():
    from latentatlas.explore.state import display_images, gif, png, strip

    chw = np.random.default_rng(0).integers(0, 255, (3, 3, 8, 8), dtype=np.uint8)   # (N, C, H, W)
    hwc = display_images(chw)
    assert hwc.shape == (3, 8, 8, 3) and np.array_equal(hwc[1, 2, 5], chw[1, :, 2, 5])
    assert display_images(chw[:, :1]).shape == (3, 8, 8)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png(hwc[0])))), hwc[0])
    assert strip(hwc).shape == (8, 3 * 8 + 2 * 2, 3)
    assert Image.open(io.BytesIO(gif(hwc))).n_frames == 3


def test_cli_warns_when_listening_beyond_loopback(monkeypatch, capsys, tmp_path):
    import latentatlas.explore.server as server_mod
    import latentatlas.explore.state as state_mod

    seen = {}
    monkeypatch.setattr(state_mod.ExploreState, "load", classmethod(lambda cls, run, views, threads, device=None, columns=None: "state"))
    monkeypatch.setattr(server_mod, "serve", lambda state, host, port, policy, open_browser: seen.update(
        host=host, port=port, hosts=policy.allowed_hosts, browser=open_browser))
    assert cli_main(["explore", str(tmp_path), "--host", "0.0.0.0", "--allow-host", "box.lan", "--port", "0",
                     "--no-browser"]) == 0
    assert "warning: listening on 0.0.0.0" in capsys.readouterr().err
    assert seen["host"] == "0.0.0.0" and "box.lan" in seen["hosts"] and seen["browser"] is False
    assert cli_main(["explore", str(tmp_path), "--port", "0"]) == 0
    assert "warning" not in capsys.readouterr().err and seen["host"] == "127.0.0.1" and seen["browser"] is True


# ------------------------------------------------------------------ colour: every picture in RGB, grey stays grey
@pytest.fixture(scope="module")
def colour_state(tmp_path_factory):
    """A tiny 2-d VAE on the tinted sample ("mnist-color", with its hue factor), loaded for exploring."""
    from colour_helpers import use_tinted_sample

    from latentatlas.explore.state import ExploreState
    from latentatlas.settings import DataConfig, ModelConfig, TrainConfig
    from latentatlas.stages.train import train_run

    mp = pytest.MonkeyPatch()
    use_tinted_sample(mp)                 # undone after this module: the explorer reloads the data on start
    run = tmp_path_factory.mktemp("explore-colour") / "run"
    train_run(run, DataConfig(name="mnist-color"), ModelConfig(name="vae", latent_dim=2),
              TrainConfig(epochs=1, batch_size=64, max_train_images=1000, seed=0, progress_images=16, threads=1))
    assert cli_main(["encode", str(run)]) == 0
    yield ExploreState.load(run, views=["pca", "latent"], progress=False)
    mp.undo()


@pytest.fixture(scope="module")
def colour_client(colour_state, policy):
    return _client_of(colour_state, policy)


def every_picture(client) -> dict:
    """name -> decoded PIL image of every picture the API sends: hover, click panel, decode,
    walks (strip and GIF), sliders, selection."""
    import base64

    def pil(uri):
        return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))

    p = client.get("/api/point/3?k=2").json()
    pics = {"hover": Image.open(io.BytesIO(client.get("/api/image/3").content)),
            "point image": pil(p["image"]), "reconstruction": pil(p["reconstruction"]),
            "neighbour": pil(p["neighbours"][0]["image"])}
    pics["decode at"] = pil(client.post("/api/decode", json={"view": "pca", "x": 0.1, "y": 0.2}).json()["image"])
    pics["decode code"] = pil(client.post("/api/decode", json={"code": [0.5, -0.5]}).json()["image"])
    path = client.post("/api/walk", json={"view": "latent", "path": [[-1, 0], [1, 1]], "steps": 4}).json()
    pics["path strip"], pics["path gif"] = pil(path["strip"]), pil(path["gif"])
    ab = client.post("/api/walk", json={"a": 1, "b": 2, "steps": 3}).json()
    pics["a-b strip"], pics["a-b gif"] = pil(ab["strip"]), pil(ab["gif"])
    pics["slider"] = pil(client.post("/api/traverse", json={"index": 0, "dim": 0, "values": [1.0]}).json()["images"][0])
    sel = client.post("/api/select", json={"indices": [1, 2, 3, 4]}).json()
    pics["mean image"], pics["decoded mean"] = pil(sel["mean_image"]), pil(sel["decoded_mean"])
    return pics


SIZES = {"path strip": (4 * 28 + 3 * 2, 28), "path gif": (4 * 28, 4 * 28), "a-b strip": (3 * 28 + 2 * 2, 28),
         "a-b gif": (4 * 28, 4 * 28)}


def test_a_colour_run_answers_every_picture_in_rgb(colour_client, colour_state):
    pics = every_picture(colour_client)
    for name, img in pics.items():
        assert img.mode == ("P" if name.endswith("gif") else "RGB"), name
        assert img.size == SIZES.get(name, (28, 28)), name
    # the pictures are the data's own colours: the hovered image is the tinted image, channel for channel
    from colour_helpers import tinted_sample

    ds = tinted_sample()
    np.testing.assert_array_equal(np.asarray(pics["hover"]), ds.x_train[3].transpose(1, 2, 0))
    assert np.ptp(np.asarray(pics["hover"]).astype(int), axis=2).max() > 100       # a tint, not grey
    # the GIF keeps the decoded colours (up to its 256-colour palette)
    frames = colour_state.decode(np.stack([colour_state.codes[1], colour_state.codes[2]]))
    first = np.asarray(pics["a-b gif"].convert("RGB"))[::4, ::4].astype(int)
    assert frames.shape == (2, 28, 28, 3) and np.abs(first - frames[0]).mean() < 6
    mean = colour_state.images[[1, 2, 3, 4]].astype(np.float32).mean(axis=0)
    assert np.abs(np.asarray(pics["mean image"]).astype(int) - mean).max() <= 1


def test_a_grey_run_answers_every_picture_in_grey(client):
    for name, img in every_picture(client).items():
        assert img.mode == ("P" if name.endswith("gif") else "L"), name
        assert img.size == SIZES.get(name, (28, 28)), name


def test_colour_by_hue_is_offered_only_when_the_data_knows_the_hue(colour_client, client, colour_state):
    m = colour_client.get("/api/meta").json()
    hue = [c for c in m["colourings"] if c["name"] == "factor_hue"]
    assert hue and hue[0]["kind"] == "cyclic" and hue[0]["title"] == "hue" and hue[0]["available"]
    p = points_of(colour_client, "pca")
    rows = np.asarray(p["index"])
    np.testing.assert_allclose(p["factor_hue"], colour_state.factors["hue"][rows], atol=1e-4)
    assert 0 <= min(p["factor_hue"]) and max(p["factor_hue"]) < 1
    assert colour_client.get("/api/point/5").json()["factors"] == {"hue": round(float(colour_state.factors["hue"][5]), 4)}
    assert not any(c["name"].startswith("factor_") for c in client.get("/api/meta").json()["colourings"])
    assert "factor_hue" not in points_of(client, "pca")
    assert client.get("/api/point/5").json()["factors"] == {}


def test_run_whose_data_settings_no_longer_fit_its_model_is_one_line(run2d, tmp_path):
    """config.json edited to colour after training a grey model: refused in one line naming both."""
    from latentatlas.errors import UserError
    from latentatlas.explore.state import ExploreState

    run = tmp_path / "run"
    shutil.copytree(run2d, run)
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"]["color"] = "rgb"
    (run / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match=r"28x28 grey \(1 channel\) .* 28x28 RGB \(3 channels\)"):
        ExploreState.load(run, views=["pca"], progress=False)
