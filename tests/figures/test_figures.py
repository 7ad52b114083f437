"""latentatlas.figures: drawing leaves the caller's matplotlib alone; every section a stage names has a place."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

DRAW_EVERY_KIND = textwrap.dedent("""
    import sys
    from pathlib import Path

    import matplotlib
    matplotlib.use("svg")                      # the caller's choice, which drawing must keep
    import numpy as np

    from latentatlas.figures import curves, images, latent
    from latentatlas.stages.report.sections import _curves_uri

    out = Path(sys.argv[1])
    rng = np.random.default_rng(0)
    names = ["a", "b", "c"]
    latent.scatter_2d(rng.normal(size=(30, 2)), np.arange(30) % 3, names, out / "scatter.png", "t",
                      ellipses=[(np.zeros(2), np.eye(2))])
    latent.spectrum([0.5, 0.3, 0.2], out / "spectrum.png", "t", components_for={"90%": 3})
    latent.confusion_matrix(np.eye(3, dtype=int) * 5, names, out / "confusion.png", "t")
    images.labelled_grid(out / "grid.png", rng.random((2, 3, 8, 8)), row_labels=["r0", "r1"], title="t",
                         wrong=np.eye(2, 3, dtype=bool))
    images.means_heatmap(out / "means.png", rng.normal(size=(3, 4)), names)
    images.label_heatmap(out / "labels.png", np.eye(3) * 4, names, names)
    images.distance_bars(out / "bars.png", {"x": 1.0, "y": 2.0}, floor=0.5)
    images.manifold_figure(out / "manifold.png", rng.random((3, 3, 8, 8)), np.arange(3.0), np.arange(3.0)[::-1])
    history = [{"epoch": e, "train_loss": 3.0 - e, "test_loss": 3.5 - e, "test_recon": 2.0, "test_kl": 1.0}
               for e in (1, 2)]
    curves.save_loss_curves(out / "loss.png", history, is_variational=True)
    assert _curves_uri(history).startswith("data:image/png;base64,")
    print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
""")


def test_drawing_keeps_the_callers_backend_and_never_touches_pyplot(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    done = subprocess.run([sys.executable, "-c", DRAW_EVERY_KIND, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    backend, pyplot_loaded = done.stdout.split()
    assert backend.lower() == "svg"
    assert pyplot_loaded == "False"  # no figure left in pyplot's global list either
    for name in ("scatter", "spectrum", "confusion", "grid", "means", "labels", "bars", "manifold", "loss"):
        with Image.open(tmp_path / f"{name}.png") as img:
            assert img.format == "PNG" and min(img.size) > 50, name


def test_loss_figure_draws_only_what_history_has():
    from latentatlas.figures.curves import loss_figure

    assert loss_figure([]) is None
    assert loss_figure([{"epoch": 1, "seconds": 2.0}]) is None
    ae = loss_figure([{"epoch": 1, "train_loss": 2.0, "test_loss": 2.5}])
    vae = loss_figure([{"epoch": 1, "train_loss": 2.0, "test_loss": 2.5, "test_recon": 2.0, "test_kl": 0.5}])
    assert len(ae.axes) == 1 and len(vae.axes) == 2   # a VAE's second panel: reconstruction and KL


def test_every_figure_section_has_a_place_in_the_report():
    from latentatlas.figures import SECTIONS as FIGURE_SECTIONS
    from latentatlas.stages.report.layout import SECTIONS

    assert set(FIGURE_SECTIONS) <= {key for key, _ in SECTIONS}


def test_grid_png_tiles_images(tmp_path):
    from latentatlas.figures.grids import make_grid, save_grid_png

    imgs = np.zeros((5, 4, 4), np.float32)
    assert make_grid(imgs, nrow=3, pad=1).shape == (2 * 5 + 1, 3 * 5 + 1)   # 2 rows, 3 columns, 1-px gaps
    grid = make_grid(imgs, nrow=3)
    with Image.open(save_grid_png(tmp_path / "g.png", imgs, nrow=3, scale=2)) as img:
        assert img.size == (2 * grid.shape[1], 2 * grid.shape[0])


# ------------------------------------------------------------------ colour and grey pixels
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def solid(colour, n: int = 1, side: int = 6, dtype=np.uint8) -> np.ndarray:
    """(n, 3, side, side) images of one RGB colour, uint8 or float in [0, 1]."""
    x = np.broadcast_to(np.asarray(colour, np.uint8)[None, :, None, None], (n, 3, side, side)).copy()
    return x if dtype == np.uint8 else x.astype(np.float32) / 255


def rgb(path) -> np.ndarray:
    """A PNG read back as (H, W, 3) uint8 (matplotlib writes RGBA)."""
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB")).astype(np.int64)


def count(a: np.ndarray, colour) -> int:
    return int((a == np.asarray(colour)).all(-1).sum())


def gif_frames(path) -> tuple[list[str], list[np.ndarray]]:
    """Every frame of a GIF as (H, W, 3) uint8, and the file's mode."""
    from PIL import ImageSequence

    with Image.open(path) as img:
        return img.mode, [np.asarray(f.convert("RGB")).astype(np.int64) for f in ImageSequence.Iterator(img)]


def grey_grid_as_before(images: np.ndarray, cols: int, pad: int = 2, scale: int = 2) -> np.ndarray:
    """What save_grid_png wrote for grey (N, H, W) floats before colour: uint8 tiles on 255, nearest-upscaled."""
    u8 = (np.clip(images, 0, 1) * 255 + 0.5).astype(np.uint8)
    n, h, w = u8.shape
    rows = -(-n // cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = u8[i]
    return np.kron(grid, np.ones((scale, scale), np.uint8))


def test_pixels_convert_grey_and_colour_stacks_for_drawing():
    from latentatlas.figures.pixels import displayable, drawable, same_mode

    grey = np.random.default_rng(0).random((4, 5, 6)).astype(np.float32)
    np.testing.assert_array_equal(displayable(grey[:, None]), displayable(grey))     # (N, 1, H, W) == (N, H, W)
    assert displayable(grey).shape == (4, 5, 6) and displayable(grey).dtype == np.uint8
    colour = solid(RED, 2, dtype=np.float32)
    assert displayable(colour).shape == (2, 6, 6, 3) and tuple(displayable(colour)[1, 3, 3]) == RED
    assert drawable(colour.reshape(1, 2, 3, 6, 6), stack_dims=2).shape == (1, 2, 6, 6, 3)
    assert drawable(solid(RED, 1))[0, 0, 0].tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="C = 1 or 3"):
        displayable(np.zeros((2, 2, 5, 5)))                                         # two channels: no such image
    mixed = same_mode([np.zeros((3, 3), np.uint8), np.zeros((3, 3, 3), np.uint8)])
    assert [f.shape for f in mixed] == [(3, 3, 3), (3, 3, 3)]


@pytest.mark.parametrize("layout", ["(N, H, W)", "(N, 1, H, W)"])
def test_grey_grid_png_is_mode_l_with_the_pixels_it_had_before_colour(tmp_path, layout):
    from latentatlas.figures.grids import save_grid_png

    grey = np.random.default_rng(1).random((7, 5, 4)).astype(np.float32)
    grey[0, 0, 0], grey[0, 0, 1] = -0.5, 1.5                                     # clipped as before
    with Image.open(save_grid_png(tmp_path / "g.png", grey if layout == "(N, H, W)" else grey[:, None], nrow=3)) as img:
        assert img.mode == "L"
        np.testing.assert_array_equal(np.asarray(img), grey_grid_as_before(grey, cols=3))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_colour_grid_png_is_rgb_and_keeps_each_tiles_colour(tmp_path, dtype):
    from latentatlas.figures.grids import make_grid, save_grid_png

    imgs = np.concatenate([solid(RED, dtype=dtype), solid(GREEN, dtype=dtype), solid(BLUE, dtype=dtype)])
    assert make_grid(imgs, nrow=2, pad=1).shape == (2 * 7 + 1, 2 * 7 + 1, 3)
    with Image.open(save_grid_png(tmp_path / "c.png", imgs, nrow=2, scale=3)) as img:
        assert img.mode == "RGB" and img.size == (3 * (2 * 8 + 2), 3 * (2 * 8 + 2))
        a = np.asarray(img)
    # tile centres (pad 2, tile 6, scale 3): first row red, green; second row blue, then the white fill
    for (r, c), colour in {(0, 0): RED, (0, 1): GREEN, (1, 0): BLUE, (1, 1): WHITE}.items():
        y, x = 3 * (2 + r * 8 + 3), 3 * (2 + c * 8 + 3)
        assert tuple(a[y, x]) == colour, (r, c)
    assert tuple(a[0, 0]) == WHITE and count(a.astype(np.int64), RED) == (3 * 6) ** 2      # nearest: no blending


def test_large_colour_images_are_upscaled_crisply(tmp_path):
    """64 x 64 (and 32 x 32) cells: every image pixel becomes a scale x scale block, nothing blurred."""
    from latentatlas.figures.grids import save_grid_png

    for side in (32, 64):
        board = (np.indices((side, side)).sum(0) % 2).astype(np.float32)   # single-pixel checkerboard
        img = np.stack([board, np.zeros_like(board), 1 - board])[None]     # red and blue pixels
        a = rgb(save_grid_png(tmp_path / f"b{side}.png", img, scale=2))
        cell = a[4:4 + 2 * side, 4:4 + 2 * side]
        expect = np.kron(np.moveaxis(img[0], 0, -1), np.ones((2, 2, 1))) * 255
        np.testing.assert_array_equal(cell, expect)


def test_colour_labelled_grid_and_manifold_draw_rgb_and_grey_stays_grey(tmp_path):
    from latentatlas.figures import images

    grid = np.stack([np.concatenate([solid(RED, dtype=np.float32), solid(BLUE, dtype=np.float32)])])  # (1, 2, 3, 6, 6)
    a = rgb(images.labelled_grid(tmp_path / "c.png", grid, row_labels=["r"], title="colour"))
    assert count(a, RED) > 6 * 6 and count(a, BLUE) > 6 * 6                    # each cell drawn larger than 1:1
    m = rgb(images.manifold_figure(tmp_path / "m.png", np.broadcast_to(solid(GREEN, dtype=np.float32), (2, 2, 3, 6, 6)),
                                   np.arange(2.0), np.arange(2.0)[::-1]))
    assert count(m, GREEN) > 4 * 6 * 6
    # grey: the channel axis changes nothing, and the cells are grey levels (R = G = B)
    grey = np.random.default_rng(2).random((2, 3, 8, 8)).astype(np.float32)
    legacy = rgb(images.labelled_grid(tmp_path / "g.png", grey, row_labels=["a", "b"], title="g"))
    np.testing.assert_array_equal(rgb(images.labelled_grid(tmp_path / "g1.png", grey[:, :, None],
                                                           row_labels=["a", "b"], title="g")), legacy)
    assert count(legacy, RED) == 0 and (legacy[..., 0] == legacy[..., 2]).all()


def wrong_pixels(a: np.ndarray) -> int:
    """Pixels of the judge's red frame colour (images.WRONG, 230/31/31, give or take rounding)."""
    return int((np.abs(a - np.array([230, 31, 31])) <= 2).all(-1).sum())


@pytest.mark.parametrize("colour", [True, False])
def test_wrong_frames_stay_visible_on_colour_and_grey_images(tmp_path, colour):
    from latentatlas.figures import images

    cells = np.broadcast_to(solid(RED, dtype=np.float32) if colour else np.full((1, 1, 6, 6), 0.5, np.float32),
                            (2, 3, 3 if colour else 1, 6, 6))
    wrong = np.zeros((2, 3), bool)
    clean = rgb(images.labelled_grid(tmp_path / "clean.png", cells, wrong=wrong))
    wrong[1, 2] = True
    framed = rgb(images.labelled_grid(tmp_path / "framed.png", cells, wrong=wrong))
    assert wrong_pixels(clean) == 0
    # a frame around one cell: at least its perimeter in the figure's pixels, in the frame colour
    assert wrong_pixels(framed) > 4 * 6
    if colour:   # the frame sits in the white gap: white between it and a red image on both sides
        assert count(framed, RED) == count(clean, RED)


def test_walk_and_tour_gifs_in_colour_and_in_grey(tmp_path):
    from latentatlas.figures import images

    walk = np.concatenate([solid(RED, 3, dtype=np.float32), solid(GREEN, 2, dtype=np.float32)])    # (5, 3, 6, 6)
    # (Pillow merges repeated frames into one longer frame: red, then green, then red again)
    _, frames = gif_frames(images.walk_gif(tmp_path / "w.gif", walk, caption="red -> green", scale=4))
    assert [tuple(f[12, 12]) for f in frames] == [RED, GREEN, RED]
    assert tuple(frames[0][-2, 1]) == WHITE                                      # the caption bar stays white
    _, frames = gif_frames(images.tour_gif(tmp_path / "t.gif", walk, stop_every=2, stops=["r", "g"], scale=2))
    assert tuple(frames[0][6, 6]) == RED and {tuple(f[6, 6]) for f in frames} == {RED, GREEN}
    grey = np.linspace(0, 1, 5, dtype=np.float32)[:, None, None, None] * np.ones((5, 1, 6, 6), np.float32)
    _, frames = gif_frames(images.walk_gif(tmp_path / "g.gif", grey, hold=1, bounce=False, scale=2))
    assert [int(f[6, 6, 0]) for f in frames] == [0, 64, 128, 191, 255]
    assert all((f[..., 0] == f[..., 1]).all() and (f[..., 1] == f[..., 2]).all() for f in frames)


def test_save_gif_takes_drawn_and_channel_first_frames(tmp_path):
    from latentatlas.figures.grids import save_gif

    red, grey = solid(RED)[0], np.full((1, 6, 6), 0.5, np.float32)            # (3, 6, 6), (1, 6, 6)
    mode, frames = gif_frames(save_gif(tmp_path / "a.gif", [red, np.moveaxis(solid(GREEN)[0], 0, -1), grey[0]]))
    assert [tuple(f[5, 5]) for f in frames] == [RED, GREEN, (128, 128, 128)]  # grey made RGB beside colour
    _, frames = gif_frames(save_gif(tmp_path / "g.gif", [grey, grey[0] * 0.5]))
    assert [tuple(f[5, 5]) for f in frames] == [(128, 128, 128), (64, 64, 64)]
    with pytest.raises(ValueError, match="GIF frame"):
        save_gif(tmp_path / "bad.gif", [np.zeros((6, 6, 2))])


def test_progress_gif_keeps_colour_and_grey(tmp_path):
    from latentatlas.figures.grids import save_grid_png
    from latentatlas.training.progress import progress_gifs

    for epoch, (colour, level) in enumerate([(BLUE, 0.25), (RED, 0.5)], start=1):
        save_grid_png(tmp_path / "progress" / f"epoch_{epoch:03d}_samples.png", solid(colour, 4), nrow=2)
        save_grid_png(tmp_path / "progress" / f"epoch_{epoch:03d}_recon.png",
                      np.full((4, 1, 6, 6), level, np.float32), nrow=2)
    figs = progress_gifs(tmp_path)
    assert [f["path"] for f in figs] == ["figures/train_progress_samples.gif", "figures/train_progress_recon.gif"]
    _, frames = gif_frames(tmp_path / figs[0]["path"])
    assert [tuple(f[10, 10]) for f in frames] == [BLUE, RED]
    _, frames = gif_frames(tmp_path / figs[1]["path"])
    assert [tuple(f[10, 10]) for f in frames] == [(64, 64, 64), (128, 128, 128)]


# ------------------------------------------------------------------ a colour run, end to end
def colour_npz(path, n_train: int = 600, n_test: int = 150):
    """Digits 0, 1, 2 of the embedded MNIST sample drawn in pure red, green and blue: (N, 3, 28, 28) uint8."""
    from latentatlas.data import load_dataset

    ds = load_dataset("mnist-sample")
    keep_tr, keep_te = np.flatnonzero(ds.y_train < 3)[:n_train], np.flatnonzero(ds.y_test < 3)[:n_test]
    eye = np.eye(3, dtype=np.uint16)

    def tint(x, y):                                     # (N, 1, H, W) grey, class c -> channel c only
        return (x.astype(np.uint16) * eye[y][:, :, None, None]).astype(np.uint8)

    x, y = tint(ds.x_train[keep_tr], ds.y_train[keep_tr]), ds.y_train[keep_tr]
    np.savez(path, x=x, y=y, x_test=tint(ds.x_test[keep_te], ds.y_test[keep_te]), y_test=ds.y_test[keep_te])
    return x, y


def colourful(a: np.ndarray, by: int = 40) -> int:
    """How many pixels are not grey (their channels more than `by` levels apart)."""
    return int((a.max(-1) - a.min(-1) > by).sum())


def test_a_colour_run_writes_colour_figures_and_a_colour_sprite(tmp_path, capsys):
    from cli_helpers import run_cli

    x, y = colour_npz(tmp_path / "rgb.npz")
    run = tmp_path / "run"
    rc, out, err = run_cli(capsys, "run", "--dataset", f"npz:{tmp_path / 'rgb.npz'}", "--out", run, "--epochs", "1",
                           "--latent-dim", "2", "--batch-size", "64", "--threads", "1", "--progress-every", "1",
                           "--projections", "pca", "--no-raw", "--probes", "logreg", "--clusterers", "kmeans",
                           "--no-interactive", "--no-judge", "--n-per-class", "3", "--steps", "4",
                           "--manifold-n", "4", "--tensorboard")
    assert rc == 0, err
    figures = run / "figures"
    # the data grid: written by Pillow as RGB; the first red 0's brightest pixel is pure red there
    with Image.open(figures / "data_train_images.png") as img:
        assert img.mode == "RGB"
        grid = np.asarray(img)
    first = x[np.flatnonzero(y == 0)[0], 0]                                    # its red channel
    r, c = np.unravel_index(first.argmax(), first.shape)
    assert first.max() == 255 and tuple(grid[2 * (2 + r), 2 * (2 + c)]) == RED
    pictures = [p for p in figures.iterdir() if p.suffix in (".png", ".gif")
                and p.name.startswith(("data_", "train_progress", "generation_", "interpolation_"))
                and "heatmap" not in p.name]
    assert {"train_progress_recon.gif", "train_progress_samples.gif", "generation_class_gaussian.png",
            "interpolation_manifold.png", "interpolation_tour.gif"} <= {p.name for p in pictures}
    # A model trained for a few steps decodes muddy colours, but colours: drawn from one channel
    # (or as grey) every image pixel would have R = G = B.
    for p in pictures:
        _, frames = gif_frames(p)
        assert all(colourful(f, by=8) > 1000 for f in frames), p.name
    # the progress grids TensorBoard shows are colour too, and so is the Projector's sprite
    progress = sorted((run / "progress").glob("epoch_*_recon.png"))
    with Image.open(progress[0]) as img:
        assert img.mode == "RGB" and colourful(np.asarray(img).astype(np.int64)) > 100
    (sprite,) = (run / "tensorboard").glob("*/test_codes/sprite.png")
    with Image.open(sprite) as img:
        assert img.mode == "RGB" and colourful(np.asarray(img).astype(np.int64)) > 1000
