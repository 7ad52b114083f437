"""latentatlas.figures: drawing leaves the caller's matplotlib alone; every section a stage names has a place."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image

DRAW_EVERY_KIND = textwrap.dedent("""
    import sys
    from pathlib import Path

    import matplotlib
    matplotlib.use("svg")                      # the caller's choice, which drawing must keep
    import numpy as np

    from latentatlas.figures import curves, images, latent
    from latentatlas.report.sections import _curves_uri

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
    from latentatlas.report.layout import SECTIONS

    assert set(FIGURE_SECTIONS) <= {key for key, _ in SECTIONS}


def test_grid_png_tiles_images(tmp_path):
    from latentatlas.figures.grids import make_grid, save_grid_png

    imgs = np.zeros((5, 4, 4), np.float32)
    assert make_grid(imgs, nrow=3, pad=1).shape == (2 * 5 + 1, 3 * 5 + 1)   # 2 rows, 3 columns, 1-px gaps
    grid = make_grid(imgs, nrow=3)
    with Image.open(save_grid_png(tmp_path / "g.png", imgs, nrow=3, scale=2)) as img:
        assert img.size == (2 * grid.shape[1], 2 * grid.shape[0])
