"""One registry per pluggable kind: name -> entry (class, title, limits).

    PROJECTIONS   pca, lda, tsne, umap               estimators/project.py
    PROBES        svm, logreg, knn                   estimators/probe.py
    CLUSTERERS    gmm, kmeans, n2d                   estimators/cluster.py
    SAMPLERS      prior, gaussian, class-gaussian, gmm   estimators/sample.py
    OPTIMIZERS    adam, adamw, rmsprop, sgd, muon    training/optim.py
    SCHEDULES     none, cosine, onecycle             training/optim.py
    MODELS        ae, vae, vade, dense-ae, study...  models/
    FEATURES      mean, mu+logvar, z                 stages/encode.py (what analysis reads)

In the style of openTSNE's backends dict and torch.optim's classes: a new kind is
one entry here (and its class where the entry points). The class is named as
"module:attribute" and imported on first use, so that validating a setting or
printing `--help` never imports scikit-learn or torch.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any

from .errors import UserError


@dataclass(frozen=True)
class Entry:
    """One kind: its name in settings, a title for figures and the report, its class, limits."""
    name: str
    title: str
    target: str                                   # "package.module:Class", imported lazily
    limits: dict[str, Any] = field(default_factory=dict)   # e.g. {"max_dims": 3}

    @property
    def cls(self):
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


class Registry(dict):
    """name -> Entry, with one-line errors that list the choices."""

    def __init__(self, kind: str, entries: list[Entry]):
        super().__init__((e.name, e) for e in entries)
        self.kind = kind

    def entry(self, name: str) -> Entry:
        if name not in self:
            close = difflib.get_close_matches(str(name), list(self), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"unknown {self.kind} {name!r}{hint}; choose from {', '.join(self)}")
        return self[name]

    def check(self, name: str) -> str:
        """`name` if registered, else UserError naming the choices."""
        self.entry(name)
        return name

    def title(self, name: str) -> str:
        return self[name].title if name in self else str(name)

    def names(self) -> list[str]:
        return list(self)


# limits["backends"]: {"torch": "module:Class"}, the class analysis uses with --backend torch (or auto on a
# GPU); an entry without one keeps its CPU class there (estimators/backends.py).
# limits["max_dims"]: the most dimensions a setting may ask for (a scatter shows at most 3);
# TSNEProjection refuses more as well (openTSNE: FFT in 1-2 D, Barnes-Hut's tree beyond).
PROJECTIONS = Registry("projection", [
    Entry("pca", "PCA", "latentatlas.estimators.project:PCAProjection", {"max_dims": 3}),
    Entry("lda", "LDA", "latentatlas.estimators.project:LDAProjection", {"max_dims": 3}),
    # openTSNE's FFT gradients work in 1-2 D, Barnes-Hut beyond; a scatter shows <= 3.
    # No torch backend: TorchDR's t-SNE (estimators/torch_backends.py:TorchTSNE) scored 0.03 lower
    # trustworthiness than openTSNE on 2,000 16-d mixture codes, outside the 0.01 the issue allows.
    Entry("tsne", "t-SNE", "latentatlas.estimators.project:TSNEProjection", {"max_dims": 3}),
    # No torch backend yet either: TorchDR's UMAP (estimators/torch_backends.py:TorchUMAP) gave a kNN
    # accuracy 0.0105 off umap-learn's on 2,000 such codes (tests/test_backends.py), just outside 0.01.
    Entry("umap", "UMAP", "latentatlas.estimators.project:UMAPProjection", {"max_dims": 3}),
])

PROBES = Registry("probe", [
    # limits["solvers"]: the svm_solver choices ("auto": exact up to svm_exact_max_samples codes)
    Entry("svm", "SVM (RBF kernel)", "latentatlas.estimators.probe:SVMProbe", {"solvers": ("auto", "exact", "nystroem")}),
    Entry("logreg", "logistic regression", "latentatlas.estimators.probe:LogRegProbe",
          {"backends": {"torch": "latentatlas.estimators.torch_backends:LogRegTorchProbe"}}),
    Entry("knn", "k-nearest neighbours", "latentatlas.estimators.probe:KNNProbe",
          {"backends": {"torch": "latentatlas.estimators.torch_backends:KNNTorchProbe"}}),
])

CLUSTERERS = Registry("clusterer", [
    Entry("gmm", "Gaussian mixture", "latentatlas.estimators.cluster:GMMClusterer"),
    Entry("kmeans", "k-means", "latentatlas.estimators.cluster:KMeansClusterer",
          {"backends": {"torch": "latentatlas.estimators.torch_backends:TorchKMeans"}}),
    Entry("n2d", "N2D (UMAP + Gaussian mixture)", "latentatlas.estimators.cluster:N2D"),
])

# limits["needs"]: "vae" (the N(0, I) prior exists only for a VAE) or "labels" (per-class fit).
SAMPLERS = Registry("sampler", [
    Entry("prior", "prior N(0, I)", "latentatlas.estimators.sample:PriorSampler", {"needs": "vae"}),
    Entry("gaussian", "one Gaussian", "latentatlas.estimators.sample:GaussianSampler"),
    Entry("class-gaussian", "one Gaussian per class", "latentatlas.estimators.sample:ClassGaussianSampler",
          {"needs": "labels"}),
    Entry("gmm", "Gaussian mixture", "latentatlas.estimators.sample:GaussianMixtureSampler"),
])

OPTIMIZERS = Registry("optimizer", [
    Entry("adam", "Adam", "torch.optim:Adam"),
    Entry("adamw", "AdamW", "torch.optim:AdamW"),
    Entry("rmsprop", "RMSprop", "torch.optim:RMSprop"),
    Entry("sgd", "SGD", "torch.optim:SGD"),
    Entry("muon", "Muon (weight matrices) + Adam (the rest)", "latentatlas.training.muon:MuonAdam"),
])

SCHEDULES = Registry("schedule", [
    Entry("none", "constant", ""),
    Entry("cosine", "cosine annealing", "torch.optim.lr_scheduler:CosineAnnealingLR"),
    Entry("onecycle", "one-cycle", "torch.optim.lr_scheduler:OneCycleLR"),
])

# limits["variational"]: the model's encoder gives (mu, logvar), so it has a prior to sample
# (the class's `is_variational`; here so that settings can be checked without torch).
MODELS = Registry("model", [
    Entry("ae", "convolutional autoencoder", "latentatlas.models.conv:ConvAE"),
    Entry("vae", "convolutional VAE", "latentatlas.models.conv:ConvVAE", {"variational": True}),
    Entry("vade", "convolutional VaDE (Gaussian-mixture prior)", "latentatlas.models.vade:ConvVaDE",
          {"variational": True}),
    Entry("dense-ae", "dense autoencoder", "latentatlas.models.dense:DenseAE"),
    Entry("study000-cae", "study 000 convolutional autoencoder", "latentatlas.models.studies:Study000CAE"),
    Entry("study001-vae", "study 001 VAE", "latentatlas.models.studies:Study001VAE", {"variational": True}),
    Entry("study002-ae", "study 002 autoencoder", "latentatlas.models.studies:Study002AE"),
    Entry("study003-vae", "study 003 VAE", "latentatlas.models.studies:Study003VAE", {"variational": True}),
    Entry("study004-ae", "study 004 autoencoder", "latentatlas.models.studies:Study004AE"),
])

# What analysis reads from latents.npz (no class: stages/encode.py's `features` builds them);
# limits["needs"] "vae": only a VAE stores the log-variances these need.
FEATURES = Registry("features", [
    Entry("mean", "latent means (VAE mu, autoencoder z)", ""),
    Entry("mu+logvar", "VAE [mu, log sigma^2] concatenated", "", {"needs": "vae"}),
    Entry("z", "sampled z = mu + sigma * eps (seeded)", "", {"needs": "vae"}),
])

# The choices of two analysis settings, named here (below both the settings and the estimators
# that implement them): estimators/backends.py computes with each backend,
# estimators/project.py lays UMAP out each way.
ANALYSIS_BACKENDS = ("auto", "cpu", "torch")
UMAP_LAYOUTS = ("auto", "seeded", "parallel")
