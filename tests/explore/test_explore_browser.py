"""`latentatlas explore` in a real headless browser (Playwright + the Debian chromium).

The page is served by the real uvicorn server in a thread; the test loads it,
checks that the map holds every point, hovers, clicks empty space, draws a
path, box-selects and exports the CSV. Screenshots are kept under the test's
tmp_path (printed) and the last one is copied to /tmp/explore-shots/.
"""

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SHOTS = Path("/tmp/explore-shots")
# how many points of the map plotly counts as selected (its selectedpoints, over every trace)
PICKED = "document.getElementById('map').data.filter(t => t.meta === 'points').reduce((s, t) => s + (t.selectedpoints || []).length, 0)"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL with token, state): a real uvicorn server on a free loopback port."""
    from latentatlas.cli import main as cli_main
    from latentatlas.explore.state import ExploreState

    run = tmp_path_factory.mktemp("explore-browser") / "run"
    assert cli_main(["train", "--dataset", "mnist-sample", "--epochs", "1", "--max-train-images", "1000",
                     "--latent-dim", "6", "--threads", "1", "--out", str(run)]) == 0
    assert cli_main(["encode", str(run)]) == 0
    state = ExploreState.load(run, views=["pca", "lda"], progress=False)
    yield from serve(state)


def serve(state):
    """Yield (base URL with token, state) while a real uvicorn server runs on a free loopback port."""
    import socket

    import uvicorn

    from latentatlas.explore.security import Policy
    from latentatlas.explore.server import create_app

    policy = Policy.for_host("127.0.0.1")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(state, policy), log_level="warning"))
    srv.install_signal_handlers = lambda: None     # not the main thread
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/?token={policy.token}", state
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server, tmp_path):
    yield from open_page(browser, server[0], tmp_path)


def open_page(browser, url, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(url)
    pg.wait_for_function("window.explore && window.explore.ready", timeout=60_000)
    print(f"screenshots in {tmp_path}")
    yield pg
    context.close()


def points(page) -> dict:
    """window.explore.points with its typed arrays as lists (they arrive packed, packing.py)."""
    return page.evaluate("""() => Object.fromEntries(Object.entries(window.explore.points).map(
        ([k, v]) => [k, ArrayBuffer.isView(v) ? Array.from(v) : v]))""")


def in_view(page, selector) -> bool:
    """Whether the element's top lies inside the window (not below the fold)."""
    return page.evaluate(f"""() => {{ const r = document.querySelector('{selector}').getBoundingClientRect();
        return r.top >= 0 && r.top < window.innerHeight - 40; }}""")


def uri_pixels(uri: str) -> np.ndarray:
    import base64
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def shot(page, tmp_path, name):
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SHOTS / path.name)
    return path


def to_screen(page, x, y):
    """Data coordinates -> page pixels, through plotly's own axes (d2p)."""
    return page.evaluate("""([x, y]) => {
        const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const box = gd.getBoundingClientRect();
        return [box.left + xa._offset + xa.d2p(x), box.top + ya._offset + ya.d2p(y)];
    }""", [x, y])


def screen_points(page) -> np.ndarray:
    """(N, 2) page pixels of every point of the view, in the order of explore.points."""
    return np.asarray(page.evaluate("""() => {
        const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const box = gd.getBoundingClientRect(), p = window.explore.points;
        return Array.from(p.x, (x, i) => [box.left + xa._offset + xa.d2p(x), box.top + ya._offset + ya.d2p(p.y[i])]);
    }"""))


def isolated_point(page, skip=()) -> tuple[int, float, float]:
    """(row in explore.points, x, y on the page) of a point with no other within 10 pixels."""
    pix = screen_points(page)
    for row in np.argsort(-np.abs(pix[:, 0] - pix[:, 0].mean())):     # outliers first
        if row in skip:
            continue
        d = np.hypot(*(pix - pix[row]).T)
        d[row] = np.inf
        if d.min() > 10:
            return int(row), float(pix[row, 0]), float(pix[row, 1])
    pytest.fail("no isolated point on the map")


def empty_spot(page, state):
    """A place inside the plot where no point lies within 12 pixels."""
    all_pix = screen_points(page)
    box = page.evaluate("""() => { const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis,
        ya = gd._fullLayout.yaxis, b = gd.getBoundingClientRect();
        return [b.left + xa._offset, b.top + ya._offset, xa._length, ya._length]; }""")
    for fx in np.linspace(0.08, 0.92, 15):
        for fy in np.linspace(0.08, 0.92, 15):
            sx, sy = box[0] + fx * box[2], box[1] + fy * box[3]
            if np.min(np.hypot(all_pix[:, 0] - sx, all_pix[:, 1] - sy)) > 12:
                return sx, sy
    pytest.fail("no empty spot on the map")


def test_page_loads_with_every_point_and_no_errors(page, server, tmp_path):
    _, state = server
    assert page.evaluate("window.explore.mapPointCount()") == state.n
    assert page.evaluate("document.getElementById('map').data[0].type") == "scattergl"
    assert page.evaluate("window.explore.meta.views.map(v => v.name)") == ["pca", "lda"]
    shot(page, tmp_path, "01-loaded")
    for colour in ("cluster", "probe_error", "variance", "class"):   # every colouring keeps every point
        page.select_option("#colour", colour)
        page.wait_for_function(f"window.explore.colour === '{colour}' && window.explore.mapPointCount() === {state.n}")
    page.select_option("#view", "lda")
    page.wait_for_function(f"window.explore.view === 'lda' && window.explore.points.view === 'lda' && "
                           f"window.explore.mapPointCount() === {state.n}")
    assert page.errors == []


def test_search_by_class_isolates_it_and_by_index_opens_the_point(page, server, tmp_path):
    _, state = server
    page.fill("#search", f"class {state.class_names[3]}")
    page.press("#search", "Enter")
    page.wait_for_function("document.getElementById('map').data.filter(t => t.meta === 'points' && "
                           "t.visible !== 'legendonly').length === 1")
    visible = page.evaluate("document.getElementById('map').data.filter(t => t.meta === 'points' && "
                            "t.visible !== 'legendonly').map(t => [t.name, t.x.length])")
    assert visible == [[state.class_names[3], int((state.labels == 3).sum())]]
    page.fill("#search", "42")
    page.press("#search", "Enter")
    page.wait_for_function("window.explore.selected && window.explore.selected.index === 42")
    assert page.errors == []


def test_walk_between_two_picked_points(page, server, tmp_path):
    page.check("input[value=walk]")
    p = points(page)
    picked = []
    for _ in range(2):
        i, sx, sy = isolated_point(page, skip=picked)
        page.mouse.move(sx, sy, steps=3)
        page.wait_for_function(f"document.getElementById('tooltip-image').src.includes('api/image/{p['index'][i]}?')")
        page.mouse.click(sx, sy)
        picked.append(i)
    page.wait_for_selector("#walk-panel:not([hidden])", timeout=15_000)
    walk = page.evaluate("window.explore.lastWalk")
    assert (walk["a"], walk["b"]) == (p["index"][picked[0]], p["index"][picked[1]]) and "latent space" in walk["rule"]
    shot(page, tmp_path, "07-walk")
    assert page.errors == []


def test_hover_shows_the_image(page, tmp_path):
    p = points(page)
    i, sx, sy = isolated_point(page)
    page.mouse.move(sx - 30, sy)
    page.mouse.move(sx, sy, steps=4)
    page.wait_for_selector("#tooltip:not([hidden])", timeout=10_000)
    page.wait_for_function("document.getElementById('tooltip-image').complete && "
                           "document.getElementById('tooltip-image').naturalWidth > 0")
    src = page.get_attribute("#tooltip-image", "src")
    assert f"api/image/{p['index'][i]}?" in src
    shot(page, tmp_path, "02-hover")
    assert page.errors == []


def test_click_on_a_point_shows_details_and_neighbours(page, server, tmp_path):
    p = points(page)
    i, sx, sy = isolated_point(page)
    page.mouse.move(sx, sy, steps=3)
    # as a user does: the hover (plotly throttles it) reaches the point before the click
    page.wait_for_function(f"document.getElementById('tooltip-image').src.includes('api/image/{p['index'][i]}?')")
    page.mouse.click(sx, sy)
    page.wait_for_selector("#point-panel:not([hidden])", timeout=10_000)
    assert page.evaluate("window.explore.selected.index") == p["index"][i]
    assert page.locator("#neighbours img").count() == 8
    page.locator("#sliders input").first.fill("1.5")
    page.locator("#sliders input").first.dispatch_event("input")
    page.wait_for_function("document.getElementById('slider-image').src !== "
                           "document.getElementById('point-recon').src", timeout=10_000)
    shot(page, tmp_path, "03-point")
    assert page.errors == []


def test_click_on_empty_space_decodes_there(page, server, tmp_path):
    _, state = server
    sx, sy = empty_spot(page, state)
    page.mouse.move(sx, sy)
    page.mouse.click(sx, sy)
    page.wait_for_selector("#decode-panel:not([hidden])", timeout=10_000)
    r = page.evaluate("window.explore.lastDecode")
    assert r["rule"].startswith("idw") and r["image"].startswith("data:image/png;base64,")
    # the page asked for the place under the mouse (within a pixel) ...
    x, y = page.evaluate("""([sx, sy]) => { const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis,
        ya = gd._fullLayout.yaxis, b = gd.getBoundingClientRect();
        return [xa.p2d(sx - b.left - xa._offset), ya.p2d(sy - b.top - ya._offset)]; }""", [sx, sy])
    px = np.subtract(to_screen(page, r["x"], r["y"]), [sx, sy])
    assert np.abs(px).max() <= 1.0, (px, x, y)
    # ... and got the code the Python API's inverse rule gives there, decoded by the model
    code, _, _ = state.views["pca"].inverse.code(r["x"], r["y"])
    np.testing.assert_allclose(r["code"], code, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(uri_pixels(r["image"]), state.decode(code[None])[0])
    shot(page, tmp_path, "04-decode")
    page.select_option("#view", "lda")        # the old view's coordinates mean nothing on this one
    page.wait_for_function("window.explore.points.view === 'lda'")
    assert page.locator("#decode-panel").is_hidden()
    assert page.errors == []


def test_drawn_path_returns_a_strip(page, server, tmp_path):
    page.check("input[value=path]")
    box = page.evaluate("""() => { const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis,
        ya = gd._fullLayout.yaxis, b = gd.getBoundingClientRect();
        return [b.left + xa._offset, b.top + ya._offset, xa._length, ya._length]; }""")
    x0, y0, w, h = box
    page.mouse.move(x0 + 0.2 * w, y0 + 0.5 * h)
    page.mouse.down()
    for t in np.linspace(0, 1, 20):
        page.mouse.move(x0 + (0.2 + 0.6 * t) * w, y0 + (0.5 - 0.3 * np.sin(np.pi * t)) * h)
    page.mouse.up()
    page.wait_for_selector("#walk-panel:not([hidden])", timeout=15_000)
    walk = page.evaluate("window.explore.lastWalk")
    assert walk["steps"] == 12 and walk["strip"].startswith("data:image/png")
    assert page.get_attribute("#walk-gif", "href").startswith("data:image/gif;base64,")
    page.wait_for_function("document.getElementById('status').textContent === 'walk of 12 steps'")
    assert page.evaluate("(e => e.scrollWidth <= e.clientWidth)(document.getElementById('status'))")  # not cut
    assert in_view(page, "#walk-panel")
    shot(page, tmp_path, "05-path")
    # a lasso that starts on the drawn line selects (the line no longer takes the mouse)
    page.check("input[value=lasso]")
    start = (x0 + 0.5 * w, y0 + (0.5 - 0.3 * np.sin(np.pi * 0.5)) * h)
    page.mouse.move(*start)
    page.mouse.down()
    for dx, dy in ((0.15, 0.1), (0.15, 0.4), (-0.15, 0.4), (-0.15, 0.1), (0, 0)):
        page.mouse.move(start[0] + dx * w, start[1] + dy * h, steps=6)
    page.mouse.up()
    page.wait_for_selector("#select-panel:not([hidden])", timeout=15_000)
    assert page.evaluate("window.explore.lastSelection.n") > 0 and in_view(page, "#select-panel")
    shot(page, tmp_path, "05-path-then-lasso")
    assert page.errors == []


def test_reload_without_the_token_works_through_the_cookie(page, server):
    _, state = server
    page.goto(server[0].split("?")[0])            # the address bar after the token is gone
    page.wait_for_function("window.explore && window.explore.ready", timeout=60_000)
    assert page.evaluate("window.explore.mapPointCount()") == state.n
    assert page.errors == []


def test_box_selection_exports_the_right_indices(page, server, tmp_path):
    page.check("input[value=select]")
    box = page.evaluate("""() => { const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis,
        ya = gd._fullLayout.yaxis, b = gd.getBoundingClientRect();
        return [b.left + xa._offset, b.top + ya._offset, xa._length, ya._length]; }""")
    x0, y0, w, h = box
    a, b = (x0 + 0.35 * w, y0 + 0.35 * h), (x0 + 0.6 * w, y0 + 0.65 * h)
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, steps=5)
    page.mouse.move(*b, steps=5)
    page.mouse.up()
    page.wait_for_selector("#select-panel:not([hidden])", timeout=15_000)
    # the box plotly selected is the one dragged (within a pixel or two) ...
    corners = page.evaluate("""([a, b]) => { const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis,
        ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
        return [[xa.p2d(a[0] - r.left - xa._offset), xa.p2d(b[0] - r.left - xa._offset)],
                [ya.p2d(a[1] - r.top - ya._offset), ya.p2d(b[1] - r.top - ya._offset)]]; }""", [a, b])
    rng = page.evaluate("window.explore.selectionRange")
    for axis, length, ours in (("x", w, corners[0]), ("y", h, corners[1])):
        span = abs(ours[1] - ours[0]) / (0.25 if axis == "x" else 0.3)      # data units per plot width
        assert np.allclose(sorted(rng[axis]), sorted(ours), atol=2 * span / length)
    # ... and the CSV holds exactly the points inside it, computed here from the page's coordinates
    p = points(page)
    x, y, idx = np.asarray(p["x"]), np.asarray(p["y"]), np.asarray(p["index"])
    (x0r, x1r), (y0r, y1r) = sorted(rng["x"]), sorted(rng["y"])
    inside = (x >= x0r) & (x <= x1r) & (y >= y0r) & (y <= y1r)
    expect = sorted(idx[inside].tolist())
    assert len(expect) > 0
    with page.expect_download() as dl:
        page.click("#select-csv")
    path = tmp_path / "selection.csv"
    dl.value.save_as(path)
    rows = path.read_text().strip().splitlines()
    assert rows[0] == "index,split,label,class"
    got = sorted(int(r.split(",")[0]) for r in rows[1:])
    assert got == expect
    assert page.evaluate("window.explore.lastSelection.n") == len(got)
    # the other points stay on the map, greyed; the selected ones are plotly's selectedpoints
    assert page.evaluate(PICKED) == len(got) and page.evaluate("window.explore.mapPointCount()") == len(x)
    assert page.evaluate("document.getElementById('map')._fullData[0].unselected.marker.color") == "#cfcfcf"
    shot(page, tmp_path, "06-select")
    assert page.errors == []


def test_lasso_selection_exports_the_points_inside_the_drawn_polygon(page, server, tmp_path):
    from matplotlib.path import Path as Polygon

    page.check("input[value=lasso]")
    box = page.evaluate("""() => { const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis,
        ya = gd._fullLayout.yaxis, b = gd.getBoundingClientRect();
        return [b.left + xa._offset, b.top + ya._offset, xa._length, ya._length]; }""")
    x0, y0, w, h = box
    # A pentagon around the middle of the map, drawn as a free-hand lasso.
    angles = np.linspace(0, 2 * np.pi, 6)[:-1]
    corners = [(x0 + (0.5 + 0.22 * np.cos(t)) * w, y0 + (0.5 + 0.22 * np.sin(t)) * h) for t in angles]
    page.mouse.move(*corners[0])
    page.mouse.down()
    for c in corners[1:] + corners[:1]:
        page.mouse.move(*c, steps=6)
    page.mouse.up()
    page.wait_for_selector("#select-panel:not([hidden])", timeout=15_000)
    lasso = page.evaluate("window.explore.selectionLasso")
    assert lasso and len(lasso["x"]) >= 5
    # The CSV holds exactly the points inside the polygon plotly recorded, tested here on the
    # page's own coordinates (points within a hair of the edge may go either way: none expected).
    p = points(page)
    xy = np.column_stack([p["x"], p["y"]])
    polygon = Polygon(np.column_stack([lasso["x"], lasso["y"]]))
    inside = polygon.contains_points(xy)
    expect = sorted(np.asarray(p["index"])[inside].tolist())
    assert len(expect) > 0
    with page.expect_download() as dl:
        page.click("#select-csv")
    path = tmp_path / "lasso.csv"
    dl.value.save_as(path)
    got = sorted(int(r.split(",")[0]) for r in path.read_text().strip().splitlines()[1:])
    disagree = set(got) ^ set(expect)
    assert len(disagree) <= 1, sorted(disagree)[:10]   # at most one point on the very edge
    shot(page, tmp_path, "07-lasso")
    assert page.errors == []


# ------------------------------------------------------------------ a colour run: RGB pictures, colour by hue
@pytest.fixture(scope="module")
def colour_server(tmp_path_factory):
    """The explorer on a tiny 2-d VAE of the tinted sample ("mnist-color", with its hue factor)."""
    from colour_helpers import use_tinted_sample

    from latentatlas.cli import main as cli_main
    from latentatlas.explore.state import ExploreState
    from latentatlas.settings import DataConfig, ModelConfig, TrainConfig
    from latentatlas.stages.train import train_run

    mp = pytest.MonkeyPatch()
    use_tinted_sample(mp)
    run = tmp_path_factory.mktemp("explore-colour") / "run"
    train_run(run, DataConfig(name="mnist-color"), ModelConfig(name="vae", latent_dim=2),
              TrainConfig(epochs=2, batch_size=64, max_train_images=2000, seed=0, progress_images=16, threads=1))
    assert cli_main(["encode", str(run)]) == 0
    yield from serve(ExploreState.load(run, views=["pca", "latent"], progress=False))
    mp.undo()


@pytest.fixture
def colour_page(browser, colour_server, tmp_path):
    yield from open_page(browser, colour_server[0], tmp_path)


def test_colour_run_hover_click_and_colour_by_hue(colour_page, colour_server, tmp_path):
    page, state = colour_page, colour_server[1]
    options = page.evaluate("[...document.querySelectorAll('#colour option')].map(o => [o.value, o.text])")
    assert ["factor_hue", "hue"] in options
    page.select_option("#colour", "factor_hue")
    page.wait_for_function(f"window.explore.colour === 'factor_hue' && window.explore.mapPointCount() === {state.n}")
    # the scale plotly resolved (an unknown name would fall back silently): round the hue circle, red to red
    marker = page.evaluate("document.getElementById('map')._fullData[0].marker")
    scale = [c for _, c in marker["colorscale"]]
    assert scale[0] == scale[-1] == "#ff0000" and "#00ff00" in scale and "#0000ff" in scale
    assert (marker["cmin"], marker["cmax"]) == (0, 1) and len(marker["color"]) == state.n
    # hover: the tooltip shows the point's colour image and its hue
    p = points(page)
    i, sx, sy = isolated_point(page)
    page.mouse.move(sx - 30, sy)
    page.mouse.move(sx, sy, steps=4)
    page.wait_for_function(f"document.getElementById('tooltip-image').src.includes('api/image/{p['index'][i]}?') && "
                           "document.getElementById('tooltip-image').complete && "
                           "document.getElementById('tooltip-image').naturalWidth === 28")
    assert f"hue {state.factors['hue'][p['index'][i]]:.2f}" in page.text_content("#tooltip-text")
    shot(page, tmp_path, "colour-01-hover")
    # click: image, reconstruction and neighbours in colour
    page.mouse.click(sx, sy)
    page.wait_for_selector("#point-panel:not([hidden])", timeout=10_000)
    sel = page.evaluate("window.explore.selected")
    assert sel["index"] == p["index"][i] and "hue" in page.text_content("#point-text")
    page.wait_for_timeout(500)
    assert page.locator("#decode-panel").is_hidden()        # a click on a point is not a click on empty space
    for uri in [sel["image"], sel["reconstruction"]] + [n["image"] for n in sel["neighbours"]]:
        assert uri_pixels(uri).shape == (28, 28, 3)
    np.testing.assert_array_equal(uri_pixels(sel["image"]), state.images[sel["index"]])
    shot(page, tmp_path, "colour-02-point")
    assert page.errors == []


# ------------------------------------------------------------------ colour by a field, selections greyed, sprites, links
def plot_box(page):
    return page.evaluate("""() => { const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis,
        ya = gd._fullLayout.yaxis, b = gd.getBoundingClientRect();
        return [b.left + xa._offset, b.top + ya._offset, xa._length, ya._length]; }""")


def drag_box(page, a, b):
    """Box-select from fraction a to fraction b of the plot area; waits for the selection panel."""
    page.check("input[value=select]")
    x0, y0, w, h = plot_box(page)
    page.mouse.move(x0 + a[0] * w, y0 + a[1] * h)
    page.mouse.down()
    page.mouse.move(x0 + (a[0] + b[0]) / 2 * w, y0 + (a[1] + b[1]) / 2 * h, steps=5)
    page.mouse.move(x0 + b[0] * w, y0 + b[1] * h, steps=5)
    page.mouse.up()
    page.wait_for_selector("#select-panel:not([hidden])", timeout=15_000)
    return page.evaluate("window.explore.lastSelection.n")



def test_colour_by_a_field_and_a_selection_keeps_the_rest_greyed(page, server, tmp_path):
    _, state = server
    page.select_option("#colour", "kl")             # (reconstruction error's values: the API's tests)
    page.wait_for_function(f"window.explore.colour === 'kl' && window.explore.mapPointCount() === {state.n} "
                           f"&& document.getElementById('map')._fullData[0].marker.color.length === {state.n}")
    p = points(page)
    drawn = np.asarray(page.evaluate("Array.from(document.getElementById('map').data[0].marker.color)"))
    mu, lv = state.codes[np.asarray(p["index"])], state.logvar[np.asarray(p["index"])]
    np.testing.assert_allclose(drawn, -0.5 * (1 + lv - mu ** 2 - np.exp(lv)).sum(axis=1), rtol=1e-4, atol=1e-5)
    page.select_option("#colour", "z3")
    page.wait_for_function("window.explore.colour === 'z3' && window.explore.points.z3 !== undefined")
    row, sx, sy = isolated_point(page)                 # the tooltip names the field's value
    page.mouse.move(sx - 30, sy)
    page.mouse.move(sx, sy, steps=4)
    page.wait_for_function(f"document.getElementById('tooltip-image').src.includes('api/image/{p['index'][row]}?')")
    import re

    shown = re.search(r"latent z3 (\S+)$", page.text_content("#tooltip-text"))
    assert shown and float(shown.group(1)) == pytest.approx(state.codes[p["index"][row], 3], rel=5e-3, abs=1e-3)
    picked = sorted(np.random.default_rng(1).choice(state.n, 500, replace=False).tolist())
    n = len(picked)          # as a restored link selects (a box drawn by the mouse: the box test)
    page.evaluate("(ix) => selectIndices(ix, true)", picked)
    page.wait_for_selector("#select-panel:not([hidden])", timeout=15_000)
    # every point still drawn; the selected ones picked, the others in the greyed style
    page.wait_for_function(f"{PICKED} === {n}")
    assert page.evaluate("window.explore.mapPointCount()") == state.n
    assert page.evaluate("document.getElementById('map')._fullData[0].unselected.marker") == {
        "color": "#cfcfcf", "opacity": 0.35}
    assert page.locator("#select-counts tr").count() > 0
    assert uri_pixels(page.get_attribute("#select-decoded", "src")).shape == state.images.shape[1:]
    page.select_option("#colour", "class")            # a new colouring keeps the selection
    page.wait_for_function(f"window.explore.colour === 'class' && {PICKED} === {n} && "
                           f"window.explore.mapPointCount() === {state.n}")
    shot(page, tmp_path, "08-selection-greyed")
    page.click("#select-clear")
    page.wait_for_function(f"{PICKED} === 0 && window.explore.selectionIndices === null")
    assert page.locator("#select-panel").is_hidden() and page.errors == []


def test_zoomed_in_the_map_draws_images_in_place_of_dots(page, server, tmp_path):
    _, state = server
    p = points(page)
    row, sx, sy = isolated_point(page)
    x, y = p["x"][row], p["y"][row]
    span = np.ptp(p["x"]) * 0.04, np.ptp(p["y"]) * 0.04
    page.evaluate("([r]) => Plotly.relayout('map', {'xaxis.range': r[0], 'yaxis.range': r[1]})",
                  [[[x - span[0], x + span[0]], [y - span[1], y + span[1]]]])
    xs, ys = np.asarray(p["x"]), np.asarray(p["y"])
    rng = page.evaluate("[document.getElementById('map')._fullLayout.xaxis.range, "
                        "document.getElementById('map')._fullLayout.yaxis.range]")
    inside = int(((xs >= min(rng[0])) & (xs <= max(rng[0])) & (ys >= min(rng[1])) & (ys <= max(rng[1]))).sum())
    page.wait_for_function(f"window.explore.sprites.drawn === {inside}", timeout=15_000)
    # the canvas holds the point's own image at its place (opaque), and nothing far from every point
    cx, cy = to_screen(page, x, y)
    alpha = page.evaluate("""([cx, cy]) => { const c = document.getElementById('sprite-layer'),
        b = c.getBoundingClientRect(), r = c.width / b.width;
        return c.getContext('2d').getImageData(Math.round((cx - b.left) * r), Math.round((cy - b.top) * r), 1, 1).data[3]; }""",
                          [cx, cy])
    assert alpha == 255
    page.mouse.move(cx - 40, cy)
    page.mouse.move(cx, cy, steps=4)                  # the images let the mouse through to plotly
    page.wait_for_function(f"document.getElementById('tooltip-image').src.includes('api/image/{p['index'][row]}?')")
    shot(page, tmp_path, "09-sprites")
    page.evaluate("Plotly.relayout('map', {'xaxis.autorange': true, 'yaxis.autorange': true})")
    page.wait_for_function("window.explore.sprites.drawn === 0")
    assert page.errors == []


def test_the_link_restores_view_colour_zoom_selection_and_decode(page, browser, server, tmp_path):
    _, state = server
    page.select_option("#view", "lda")
    page.wait_for_function("window.explore.points.view === 'lda'")
    page.select_option("#colour", "cluster")
    page.wait_for_function("window.explore.colour === 'cluster'")
    picked = sorted(np.random.default_rng(0).choice(state.n, 300, replace=False).tolist())
    n = len(picked)       # (the mouse's box and lasso are tested above; here what the link keeps of them)
    page.evaluate("(ix) => selectIndices(ix, true)", picked)
    page.evaluate("decodeAt(0.123, -0.25)")
    page.wait_for_selector("#decode-panel:not([hidden])", timeout=10_000)
    page.evaluate("Plotly.relayout('map', {'xaxis.range': [-1.5, 2.5], 'yaxis.range': [-2, 1]})")
    page.wait_for_function("readState() && JSON.stringify(readState().x) === '[-1.5,2.5]' && readState().s && "
                           "readState().d")                       # the hash itself holds it all (it is debounced)
    before = page.evaluate("({sel: window.explore.selectionIndices, dec: window.explore.lastDecode})")
    link = page.evaluate("location.href")
    again = next(open_page(browser, link, tmp_path))
    again.wait_for_selector("#decode-panel:not([hidden])", timeout=15_000)
    again.wait_for_function(f"window.explore.lastSelection && window.explore.lastSelection.n === {n}")
    got = again.evaluate("""() => { const gd = document.getElementById('map');
        return {view: window.explore.view, colour: window.explore.colour, x: gd._fullLayout.xaxis.range,
                y: gd._fullLayout.yaxis.range, sel: window.explore.selectionIndices, dec: window.explore.lastDecode,
                select: document.getElementById('view').value}; }""")
    assert (got["view"], got["select"], got["colour"]) == ("lda", "lda", "cluster")
    np.testing.assert_allclose(got["x"] + got["y"], [-1.5, 2.5, -2, 1])
    assert got["sel"] == before["sel"] == picked
    assert (got["dec"]["x"], got["dec"]["y"], got["dec"]["code"]) == (before["dec"]["x"], before["dec"]["y"],
                                                                     before["dec"]["code"])
    again.wait_for_function(f"{PICKED} === {n}")
    shot(again, tmp_path, "10-restored")
    assert again.errors == [] and page.errors == []
    again.context.close()


def test_colour_by_the_users_csv_columns(browser, server, tmp_path, monkeypatch):
    from latentatlas.explore.columns import read_columns
    from latentatlas.explore.fields import Fields

    _, state = server
    csv = tmp_path / "mine.csv"                       # a few rows named by index: every other point is blank
    csv.write_text("index,score,batch\n" + "".join(f"{i},{i / 7:.3f},{'ab'[i % 2]}\n" for i in range(0, 300, 3)))
    monkeypatch.setattr(state, "fields", Fields(state, read_columns(csv, state.n)))
    page = next(open_page(browser, server[0], tmp_path))
    page.select_option("#colour", "col_batch")        # words: one trace per category, "(blank)" included
    page.wait_for_function(f"window.explore.colour === 'col_batch' && window.explore.mapPointCount() === {state.n}")
    names = page.evaluate("document.getElementById('map').data.filter(t => t.meta === 'points').map(t => [t.name, t.x.length])")
    assert dict(names) == {"a": 50, "b": 50, "(blank)": state.n - 100}
    page.select_option("#colour", "col_score")        # numbers: a colour scale; the blank ones light grey
    page.wait_for_function(f"window.explore.colour === 'col_score' && window.explore.mapPointCount() === {state.n}")
    traces = page.evaluate("document.getElementById('map')._fullData.filter(t => t.meta === 'points').map(t => "
                           "[t.name, t.x.length, Array.isArray(t.marker.color) || ArrayBuffer.isView(t.marker.color) ? "
                           "Array.from(t.marker.color) : t.marker.color])")
    assert [t[:2] for t in traces] == [["(blank)", state.n - 100], ["col_score", 100]] and traces[0][2] == "#dddddd"
    assert sorted(traces[1][2]) == pytest.approx(sorted(i / 7 for i in range(0, 300, 3)), abs=1e-3)
    shot(page, tmp_path, "11-csv-columns")
    assert page.errors == []
    page.context.close()
