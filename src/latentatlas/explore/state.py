"""What stands behind the explorer's API, loaded once at start and kept in memory.

    ExploreState.load(run_dir, views=("auto",)) -> state

holds the model (eval mode, on the device `runtime.choose_device` picks), every code of the run (train rows then
test rows, as in latents.npz), the images, the 2-D views with their inverse
maps, and the colourings (class, cluster, probe error, VAE posterior variance, and
the dataset's factors of variation such as mnist-color's hue, as "factor_<name>").
Views and colourings that `analyze` (or an earlier `explore`) saved in
maps.npz are reused; only what is missing is computed, with a progress bar,
and saved back for the next start.

Nothing here reads a path a client sent: the run folder is fixed at start.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..errors import UserError
from ..rundir import CONFIG, LATENTS, MAPS, MODEL_JSON, WEIGHTS, RunDir
from .fields import Fields
from .inverse import InverseMap

VIEW_TITLES = {"latent": "latent (2-d)", "pca": "PCA", "lda": "LDA", "umap": "UMAP", "tsne": "t-SNE"}
VIEW_ORDER = ("umap", "tsne", "pca", "lda", "latent")
DEFAULT_VIEWS = ("latent", "pca", "lda", "umap")     # t-SNE of every point is slow: only on request
MAX_SLIDERS = 16
CODE_RANGE = 10           # a client's code may reach 10x the largest |entry| the encoder produced
PLACE_MARGIN = 10         # and a place on a view 10 spans beyond the points on every side


class NonFiniteDecode(ValueError):
    """The decoder answered NaN or inf (a code the model cannot use)."""


@dataclass
class View:
    name: str
    xy: np.ndarray                  # (M, 2) float32
    index: np.ndarray               # (M,) int64 rows of the run's codes
    inverse: InverseMap
    source: str                     # "analyze/saved" or "computed now"

    @cached_property
    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((x0, x1), (y0, y1)): where a client may ask for a decode, the points' box widened by
        PLACE_MARGIN spans on each side (far beyond, inverse-distance weights underflow)."""
        if not len(self.xy):
            return (-1.0, 1.0), (-1.0, 1.0)
        lo, hi = self.xy.min(axis=0).astype(np.float64), self.xy.max(axis=0).astype(np.float64)
        pad = PLACE_MARGIN * np.maximum(hi - lo, 1e-3 * (1 + np.abs(hi)))
        return (float(lo[0] - pad[0]), float(hi[0] + pad[0])), (float(lo[1] - pad[1]), float(hi[1] + pad[1]))


@dataclass
class ExploreState:
    run: RunDir
    model: object
    codes: np.ndarray               # (N, d) float32: AE codes or VAE means, train then test
    labels: np.ndarray              # (N,) int64
    class_names: list
    n_train: int
    kind: str                       # "ae" | "vae"
    images: np.ndarray              # (N, H, W) or (N, H, W, 3) uint8
    dataset: str = ""
    logvar: np.ndarray | None = None
    factors: dict = field(default_factory=dict)      # name -> (N,) floats (mnist-color: "hue" in [0, 1))
    views: dict = field(default_factory=dict)
    colourings: dict = field(default_factory=dict)   # name -> (N,) array
    probe_words: str = ""
    probe_accuracy: float | None = None
    sliders: dict = field(default_factory=dict)
    fields: object = None                            # fields.Fields: recon error, KL, z<j>, the user's columns
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        if self.fields is None:
            self.fields = Fields(self)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, run_dir, views=("auto",), threads: int = 1, progress: bool = True, device=None,
             columns=None) -> ExploreState:
        """The run through its run context (encoded first if it has no codes yet), on `device`
        (None: the one runtime rule, cuda -> mps -> cpu); `columns`: the user's CSV (columns.py)."""
        import torch

        from .columns import read_columns

        from ..models import check_fits_data
        from ..stages.encode import open_encoded

        RunDir(run_dir).require(CONFIG, MODEL_JSON, WEIGHTS)
        torch.set_num_threads(max(1, int(threads)))    # one small decode gains nothing from more
        ctx = open_encoded(run_dir, device=device)
        rd, latents = ctx.run, ctx.latents
        codes = np.concatenate([latents["train_mean"], latents["test_mean"]]).astype(np.float32)
        labels = np.concatenate([latents["train_labels"], latents["test_labels"]]).astype(np.int64)
        logvar = (np.concatenate([latents["train_logvar"], latents["test_logvar"]]).astype(np.float32)
                  if "train_logvar" in latents else None)
        user_columns = read_columns(columns, len(codes)) if columns else {}    # a bad CSV fails before any work
        data = ctx.dataset(needed_by="the explorer needs the run's images")
        images = display_images(np.concatenate([data.x_train, data.x_test]))
        if len(images) != len(codes):
            raise UserError(f"{rd / LATENTS} holds {len(codes)} codes but the data has {len(images)} "
                            f"images; re-run `latentatlas encode {rd.path}`")
        model = ctx.model
        check_fits_data(model, data, str(rd.path))      # images shown beside decodes of another kind
        state = cls(rd, model, codes, labels, list(latents["class_names"]), len(latents["train_mean"]),
                    latents["kind"], images, dataset=str(getattr(data, "name", "")), logvar=logvar,
                    factors=_factors(data))
        state.fields = Fields(state, user_columns)
        state._prepare(resolve_views(views, codes.shape[1], len(state.class_names)), progress)
        return state

    def _prepare(self, wanted: list[str], progress: bool) -> None:
        """Reuse saved views/colourings, compute the missing ones (with a bar), save them back."""
        from tqdm.auto import tqdm

        saved = self.run.read_maps()
        have = {v for v in VIEW_TITLES if f"xy_{v}" in saved and f"idx_{v}" in saved}
        todo = [v for v in wanted if v not in have and v != "latent"]
        extra = [c for c in ("cluster", "probe_pred") if c not in saved]
        new: dict = {}
        umaps: dict = {}
        steps = todo + [f"colour:{c}" for c in extra]
        if steps and progress:
            print(f"explore: computing {', '.join(s.replace('colour:', '') for s in steps)} "
                  f"(once: saved in {self.run / MAPS})", flush=True)
        for step in tqdm(steps, desc="explore: maps", unit="step", disable=None if progress else True):
            if step.startswith("colour:"):
                name = step.split(":", 1)[1]
                new[name] = self._cluster() if name == "cluster" else self._probe()
            else:
                xy, umaps[step] = self._project(step)
                new[f"xy_{step}"], new[f"idx_{step}"] = xy, np.arange(len(self.codes))
        if new:
            self._save_maps(new)
        maps = {**saved, **new}
        self._probe_words(maps)
        for v in VIEW_ORDER:
            if v == "latent" and self.codes.shape[1] == 2 and ("latent" in wanted or "auto" in wanted):
                self._add_view("latent", self.codes, np.arange(len(self.codes)), "the codes themselves", exact=True)
            elif f"xy_{v}" in maps and (v in wanted or v in have):
                self._add_view(v, maps[f"xy_{v}"], maps[f"idx_{v}"],
                               "computed now" if f"xy_{v}" in new else "saved (maps.npz)", umap=umaps.get(v))
        self.colourings = {"class": self.labels, "cluster": maps["cluster"].astype(np.int64),
                           "probe_pred": maps["probe_pred"].astype(np.int64)}
        if self.logvar is not None:                     # mean posterior variance per point
            self.colourings["variance"] = np.exp(self.logvar).mean(axis=1).astype(np.float32)
        for name, values in self.factors.items():       # known factors of variation, e.g. the hue
            self.colourings[f"factor_{name}"] = np.asarray(values, np.float32)
        self._neighbours()
        self.sliders = self._slider_basis()


    def _save_maps(self, new: dict) -> None:
        """maps.npz is a cache: written under the run's lock, and skipped (one line) while another
        process writes the run or where the folder cannot be written; the explorer goes on."""
        from ..rundir import RunLockedError, RunWriteError

        try:
            with self.run.lock(command="latentatlas explore"):
                self.run.write_maps(new)
        except (RunLockedError, RunWriteError) as exc:
            print(f"explore: the maps were not saved ({exc}); they are computed again next time", flush=True)

    def _add_view(self, name, xy, index, source, exact=False, umap=None) -> None:
        xy = np.asarray(xy, np.float32)
        index = np.asarray(index, np.int64)
        if len(xy) != len(index) or (len(index) and (index.min() < 0 or index.max() >= len(self.codes))):
            return                                      # a stale or foreign view: ignore, never crash
        every = len(index) == len(self.codes) and bool((index == np.arange(len(index))).all())
        codes = self.codes if every else self.codes[index]      # no copy of a million codes for a full view
        inv = InverseMap(xy, codes, exact=exact, umap=umap).fit()
        self.views[name] = View(name, xy, index, inv, source)

    def _project(self, view: str):
        """(xy (N, 2), fitted umap.UMAP or None) of every code."""
        from ..estimators.project import make_projection

        y = self.labels
        if view == "lda":
            if len(np.unique(y)) < 3:
                raise UserError("an LDA view needs at least 3 classes; leave lda out of --views")
            from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

            lda = LinearDiscriminantAnalysis(n_components=2).fit(self.codes[: self.n_train], y[: self.n_train])
            return lda.transform(self.codes).astype(np.float32), None
        est = make_projection(view, 2, random_state=0, n_jobs=1).fit(self.codes, y)
        return np.asarray(est.embedding_, np.float32), getattr(est, "umap_", None)

    def _cluster(self) -> np.ndarray:
        """Gaussian-mixture clusters of the codes (as many components as classes, labels unused)."""
        from sklearn.mixture import GaussianMixture

        k = max(2, len(self.class_names))
        gmm = GaussianMixture(k, covariance_type="full", random_state=0, reg_covar=1e-4).fit(self.codes)
        return gmm.predict(self.codes).astype(np.int64)

    def _probe(self) -> np.ndarray:
        """Predictions of a logistic-regression probe fitted on the train codes, for every point."""
        from ..estimators.probe import make_probe

        probe = make_probe("logreg", random_state=0).fit(self.codes[: self.n_train], self.labels[: self.n_train])
        return np.asarray(probe.predict(self.codes), np.int64)

    def _probe_words(self, maps) -> None:
        pred = maps["probe_pred"]
        test = slice(self.n_train, None)
        self.probe_accuracy = float((pred[test] == self.labels[test]).mean()) if len(self.labels) > self.n_train else None
        self.probe_words = "logistic regression (standardised codes) fitted on the train split"

    def _neighbours(self) -> None:
        from sklearn.neighbors import NearestNeighbors

        self.nn = NearestNeighbors().fit(self.codes)

    # ------------------------------------------------------------------ queries
    @property
    def n(self) -> int:
        return len(self.codes)

    @property
    def latent_dim(self) -> int:
        return int(self.codes.shape[1])

    @cached_property
    def code_limit(self) -> float:
        """The largest |entry| a client's code may have: CODE_RANGE x the codes' own (at least 1)."""
        return float(CODE_RANGE * max(1.0, float(np.abs(self.codes).max(initial=0.0))))

    def neighbours(self, index: int, k: int) -> tuple[list[int], list[float]]:
        """The k nearest codes to code `index` (itself excluded), nearest first."""
        dist, rows = self.nn.kneighbors(self.codes[index: index + 1], n_neighbors=min(k + 1, self.n))
        pairs = [(int(r), float(d)) for r, d in zip(rows[0], dist[0]) if int(r) != index][:k]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def decode(self, codes) -> np.ndarray:
        """(B, d) codes -> (B, H, W) or (B, H, W, 3) uint8 images."""
        import torch

        z = torch.from_numpy(np.ascontiguousarray(np.asarray(codes, np.float32).reshape(-1, self.latent_dim)))
        device = next(self.model.parameters()).device
        with self.lock, torch.inference_mode():       # one forward pass at a time: 2 cores, no oversubscription
            x = self.model.decode(z.to(device)).float().cpu().numpy()    # (B, C, H, W) in [0, 1]
        if not np.isfinite(x).all():                    # NaN cast to uint8 would draw as a plausible image
            raise NonFiniteDecode("the decoder gave non-finite pixels")
        return display_images(x)

    def _slider_basis(self) -> dict:
        """Directions for the sliders: each latent dimension, or the leading principal directions."""
        d = self.latent_dim
        if d <= MAX_SLIDERS:
            return {"basis": "dims", "names": [f"z{i}" for i in range(d)],
                    "vectors": np.eye(d).tolist(), "scales": self.codes.std(axis=0).tolist()}
        from sklearn.decomposition import PCA

        pca = PCA(MAX_SLIDERS, random_state=0).fit(self.codes)
        return {"basis": "pca", "names": [f"PC{i + 1}" for i in range(MAX_SLIDERS)],
                "vectors": pca.components_.tolist(), "scales": np.sqrt(pca.explained_variance_).tolist()}


def _factors(data) -> dict:
    """The dataset's factors of variation, train rows then test rows: name -> (N,) float32."""
    test = getattr(data, "factors_test", {}) or {}
    return {k: np.concatenate([np.asarray(v, np.float32), np.asarray(test[k], np.float32)])
            for k, v in (getattr(data, "factors_train", {}) or {}).items() if k in test}


def resolve_views(views, latent_dim: int, n_classes: int = 10) -> list[str]:
    """The views to show: "auto" = the defaults, plus whatever maps.npz already holds."""
    out = []
    for v in views:
        for name in (DEFAULT_VIEWS if v == "auto" else [v]):
            if name not in VIEW_TITLES:
                raise UserError(f"unknown view {name!r}; choose from auto, {', '.join(VIEW_TITLES)}")
            if name == "lda" and n_classes < 3 and v == "auto":
                continue                                # LDA draws at most n_classes - 1 axes
            if name == "latent" and latent_dim != 2:
                if v == "auto":
                    continue
                raise UserError(f"the latent view needs a 2-d latent; this run's latent is {latent_dim}-d")
            if name not in out:
                out.append(name)
    return out or ["pca"]


def display_images(x: np.ndarray) -> np.ndarray:
    """uint8 images as (N, H, W) grey or (N, H, W, 3) colour from the stages' (N, C, H, W)."""
    from ..figures.pixels import displayable

    return displayable(x)


def png(image: np.ndarray) -> bytes:
    """One uint8 image -> PNG bytes (drawn at its own size; the page scales it, pixelated)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def strip(images, gap: int = 2) -> np.ndarray:
    """Images side by side with a white gap, (H, n*W + (n-1)*gap[, 3])."""
    images = list(images)
    h, w = images[0].shape[:2]
    shape = (h, len(images) * (w + gap) - gap) + images[0].shape[2:]
    out = np.full(shape, 255, np.uint8)
    for i, im in enumerate(images):
        out[:, i * (w + gap): i * (w + gap) + w] = im
    return out


def gif(images, scale: int = 4, ms: int = 120) -> bytes:
    """An animated GIF of the frames, scaled up (nearest) so that 28x28 stays visible."""
    from PIL import Image

    frames = [Image.fromarray(np.ascontiguousarray(im)).resize((im.shape[1] * scale, im.shape[0] * scale),
                                                                Image.NEAREST) for im in images]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=ms, loop=0)
    return buf.getvalue()
