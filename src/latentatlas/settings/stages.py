"""The settings of every stage, declared once.

Each field is a key of config.json and of preset/config TOML tables, and (unless
`cli=False`) a command-line option; its help text and spelling live in its metadata
(`fields.setting`). `latentatlas.settings.options` makes the argparse options from
these declarations and `latentatlas.settings.values` checks types; each class's
`__post_init__` checks what a type cannot (ranges, names against the registries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import UserError
from ..rundir.migrations import read_before_colour
from ..registry import (ANALYSIS_BACKENDS, CLUSTERERS, FEATURES, MODELS, OPTIMIZERS, PROBES, PROJECTIONS, SAMPLERS,
                        SCHEDULES, UMAP_LAYOUTS)
from .fields import csv_ints, csv_list, csv_names, int_or_all, setting, widths

FEATURE_KINDS = tuple(FEATURES)
SVM_SOLVERS = tuple(PROBES["svm"].limits["solvers"])
COMPILE_CHOICES = ("auto", "none", "compile", "cudagraphs")   # latentatlas.training.speed.compile_mode
LR_SCALINGS = ("none", "sqrt", "linear")                       # latentatlas.training.speed.scaled_lr
LANE_MODES = ("auto", "on", "off")                # stages/analyze/scheduler.py: the sections side by side
COLOR_MODES = ("auto", "rgb", "grey")            # latentatlas.data: channels of the loaded images
FIT_RULES = ("crop", "pad")                      # latentatlas.data.images: folder images to one size


def _at_least(obj, names: tuple[str, ...], low, allow_none: bool = False) -> None:
    for name in names:
        value = getattr(obj, name)
        if value is None and allow_none:
            continue
        if value is None or value < low:
            more = " (or none for all)" if allow_none else ""
            bound = ">= 0" if low == 0 else f"at least {low}"
            raise UserError(f"{name} must be {bound}{more}, not {value}")


def _one_of(name: str, value, options) -> None:
    if value not in options:
        raise UserError(f"{name} {value!r} is not one of {', '.join(map(str, options))}")


@dataclass(frozen=True)
class DataConfig:
    """Which images: a dataset, a class subset, a size, a split."""
    name: str = setting("mnist", "dataset: mnist, fashion-mnist, mnist-sample, cifar10, svhn, mnist-color, "
                                "folder:PATH, npz:PATH",
                        flag="--dataset", metavar="NAME")
    data_dir: str | None = setting(None, "folder holding the dataset's files (else $LATENTATLAS_DATA, the cache, "
                                         "/usr/share/datasets/<name>/, then a verified download)",
                                   metavar="DIR", default_text="looked up in that order")
    classes: list[str] | None = setting(None, "keep only these classes, by label or name, comma-separated "
                                              "(e.g. 1,4,8 or Sandal,Sneaker); relabelled 0..k-1 in label order",
                                        parse=csv_names, metavar="LIST", default_text="all classes")
    image_size: int | None = setting(None, "resize images to this square size (image folders default to 28)",
                                     metavar="PIXELS", default_text="the dataset's own")
    test_fraction: float = setting(0.2, "test share of a seeded split, for data without a split of its own "
                                        "(mnist-sample, folder:, npz: without x_test)")
    split_seed: int = setting(0, "seed of that split")
    color: str = setting("auto", "colour of the images: auto (what the files are: RGB if any image is in colour), "
                                 "rgb (3 channels), grey (1 channel)", flag="--color", metavar="MODE")
    fit: str = setting("crop", "how an image folder's pictures reach --image-size: crop (scale the short side, "
                               "cut the centre) or pad (scale the long side, pad the rest)", metavar="RULE")
    strict_images: bool = setting(False, "refuse an image folder holding files that cannot be used (unreadable, "
                                         "truncated, zero bytes, too small, unsupported mode), listing them all; "
                                         "without it they are skipped with a warning and listed in the report")

    def __post_init__(self):
        _one_of("color", self.color, COLOR_MODES)
        _one_of("fit", self.fit, FIT_RULES)


@dataclass(frozen=True)
class ModelConfig:
    """Which network (a name in latentatlas.registry.MODELS) and its settings.

    Fields left None take the model's own defaults (see each class); model.json then
    records every resolved value.
    """
    name: str = setting("vae", "ae, vae, vade, dense-ae, study000-cae, study001-vae, study002-ae, study003-vae, "
                               "study004-ae", flag="--model")
    latent_dim: int | None = setting(None, "size of the latent code (>= 1)", default_text="the model's")
    channels: list[int] | None = setting(None, "conv widths, one stride-2 stage each, e.g. 32,64", parse=csv_ints,
                                         default_text="fitted to the image: stages down to about 7x7 or "
                                                      "4x4, widths 32, 64, ... (28: 32,64; 32: 32,64,128)")
    hidden_dim: int | list[int] | None = setting(
        None, "dense layer(s) between convolutions and code: a width, or widths such as 1024,256 (0: none)",
        parse=widths, default_text="the model's")
    batch_norm: bool | None = setting(None, "BatchNorm layers", default_text="the model's")
    activation: str | None = setting(None, "relu, leaky_relu, silu, elu, gelu", default_text="the model's")
    final_conv: bool | None = setting(None, "a full-resolution 3x3 convolution at the end of the decoder",
                                      default_text="the model's")
    convs_per_stage: int | None = setting(None, "3x3 convolutions per resolution (1: the stride-2 one only)",
                                          default_text="the model's")
    loss: str | None = setting(None, "reconstruction loss: bce or mse", default_text="the model's")
    beta: float | None = setting(None, "weight of the VAE's KL term; 1 = the ELBO", default_text="the model's")
    n_components: int | None = setting(None, "vade: components of the Gaussian-mixture prior", default_text="10")
    pretrain_epochs: int | None = setting(None, "vade: plain-VAE epochs before the mixture prior is fitted",
                                          default_text="2")

    def __post_init__(self):
        MODELS.check(self.name)
        if self.latent_dim is not None and (isinstance(self.latent_dim, bool) or int(self.latent_dim) < 1):
            raise UserError(f"latent size must be at least 1, not {self.latent_dim}")
        if self.loss is not None:
            _one_of("loss", self.loss, ("bce", "mse"))
        if self.beta is not None and self.beta < 0:
            raise UserError(f"beta must be >= 0, not {self.beta}")
        if self.channels is not None and (not self.channels or min(self.channels) < 1):
            raise UserError(f"channels must be a non-empty list of positive widths, not {self.channels}")


# TrainConfig settings that only watch training: they change no result (no fingerprint).
TRACKING_KEYS = ("tensorboard", "tensorboard_dir", "mlflow", "wandb")
# Settings added after runs were written, per section, with the default that reproduces those
# runs: at that default they are left out of the fingerprint (and of the resume check), so
# `run` reuses an old folder.
LATER_DEFAULTS = {"train": {"compile": "auto", "lr_scaling": "none"},
                  # strict_images: refuses a folder or reads the same images; never other data
                  "data": {"color": "auto", "fit": "crop", "strict_images": False},
                  # exact below it: the graphs of every run written before (at most 70,000 codes)
                  "analysis": {"knn_exact_max_samples": 100000,
                               # seeded on the 2-core machines those runs were analysed on
                               "umap_layout": "auto",
                               # one process below 8 jobs: every run analysed before
                               "lanes": "auto"}}


def drop_later_defaults(section: str, table: dict) -> dict:
    """`table` without the later settings of `section` that sit at their reproducing default."""
    later = LATER_DEFAULTS.get(section, {})
    if section == "data" and read_before_colour(table.get("name")):
        # folders were read grey and stretched before colour: auto / crop is other data
        later = {"strict_images": False}
    return {k: v for k, v in table.items() if later.get(k, object()) != v}


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimisation, schedule, device, checkpoints and progress images."""
    epochs: int = setting(5, "training epochs")
    # 64 beat 128 per epoch within 5 epochs (benchmarks/bench_train.py)
    batch_size: int = setting(64, "images per optimiser step")
    optimizer: str = setting("adam", "adam, adamw, rmsprop, sgd, muon (Muon on weight matrices, Adam on the rest)")
    lr: float = setting(2e-3, "(peak) learning rate")
    weight_decay: float = setting(0.0, "weight decay")
    momentum: float = setting(0.9, "SGD / RMSprop momentum")
    schedule: str = setting("onecycle", "learning-rate schedule, stepped per batch: none, cosine, onecycle")
    grad_clip: float | None = setting(None, "clip the global gradient norm to this", default_text="no clipping")
    # The loss still compares with the clean image: a denoising autoencoder (Vincent et al. 2008).
    input_noise: float = setting(0.0, "denoising: std of Gaussian noise added to training inputs (0 = off)")
    seed: int = setting(0, "seed of initialisation, shuffling and sampling noise")
    device: str = setting("auto", "auto (cuda, mps, cpu), cpu, cuda, cuda:N, mps")
    threads: int | None = setting(None, "CPU threads for torch", default_text="torch's default")
    max_train_images: int | None = setting(None, "train on a seeded subset this large", default_text="all")
    # "auto": where the hardware multiplies bfloat16 (CUDA compute capability 8+, CPUs with
    # Intel AMX), see training/devices.py.
    amp: bool | Literal["auto"] = setting("auto", "bfloat16 autocast of the training pass",
                                          default_text="auto: where the hardware multiplies bfloat16")
    channels_last: bool = setting(True, "NHWC memory layout (about 15%% faster convolutions on a CPU)")
    # "auto": torch.compile with CUDA graphs on CUDA (a small network's step is bound by
    # launching kernels), eager on a CPU so its figures stay as they are (training/speed.py).
    compile: str = setting("auto", "compile the training step: none, compile (torch.compile), cudagraphs "
                                   "(torch.compile with CUDA graphs, CUDA only), auto",
                           choices=COMPILE_CHOICES, default_text="auto: cudagraphs on CUDA, none elsewhere")
    # The presets' learning rates are for batch 64: "sqrt" keeps quality when a GPU user
    # raises --batch-size (the gpu-vae preset: batch 512, sqrt).
    lr_scaling: str = setting("none", "scale --lr with --batch-size relative to 64: none, sqrt, linear",
                              choices=LR_SCALINGS)
    progress_every: int = setting(1, "progress grids every k epochs (0 = only the last)")
    progress_images: int = setting(64, "latent points decoded in each progress grid")
    # TRACKING_KEYS: latentatlas.pipeline leaves them out of the training fingerprint.
    tensorboard: bool = setting(False, "log losses (per step and per epoch), the learning rate, the progress "
                                       "grids and, at the end, the test codes as an Embedding Projector "
                                       "embedding for TensorBoard (needs latentatlas[tensorboard])")
    tensorboard_dir: str | None = setting(None, "where the TensorBoard logs go: DIR/<run folder name>",
                                          metavar="DIR", default_text="RUN/tensorboard")
    mlflow: bool = setting(False, "log the settings as parameters, per-epoch losses and the results as metrics, "
                                  "the run's files as artefacts and the decoder as a model to MLflow: "
                                  "$MLFLOW_TRACKING_URI, else the SQLite store ./mlflow.db "
                                  "(needs latentatlas[mlflow])")
    wandb: bool = setting(False, "log the per-epoch losses, the progress grids, the results, the report and the "
                                 "test codes as a table to Weights & Biases: $WANDB_MODE, else online when "
                                 "logged in and offline (./wandb, `wandb sync` later) otherwise "
                                 "(needs latentatlas[wandb])")

    def __post_init__(self):
        OPTIMIZERS.check(self.optimizer)
        SCHEDULES.check(self.schedule)
        _at_least(self, ("epochs", "weight_decay", "input_noise", "progress_every"), 0)
        _at_least(self, ("batch_size", "progress_images"), 1)
        _at_least(self, ("threads", "max_train_images"), 1, allow_none=True)
        if not self.lr > 0:
            raise UserError(f"lr (learning rate) must be > 0, not {self.lr}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise UserError(f"grad_clip must be > 0 (or left out), not {self.grad_clip}")
        if not (isinstance(self.amp, bool) or self.amp == "auto"):
            raise UserError(f"amp must be true, false or \"auto\", not {self.amp!r}")
        _one_of("compile", self.compile, COMPILE_CHOICES)
        _one_of("lr_scaling", self.lr_scaling, LR_SCALINGS)


def parse_projection_spec(spec: str) -> tuple[str, int]:
    """"umap:2" -> ("umap", 2); one line naming the problem if the spec is wrong."""
    method, _, dims = str(spec).strip().lower().partition(":")
    if method not in PROJECTIONS:
        raise UserError(f"unknown projection {spec!r}; use METHOD:DIMS with METHOD one of "
                        f"{', '.join(PROJECTIONS)} (e.g. pca:2,umap:3)")
    try:
        n = int(dims or 2)
    except ValueError:
        raise UserError(f"projection {spec!r}: DIMS must be 1, 2 or 3 (e.g. {method}:2)") from None
    most = PROJECTIONS[method].limits["max_dims"]
    if not 1 <= n <= most:
        raise UserError(f"projection {spec!r} asks for {n} dimensions; {method} draws at most "
                        f"{most} (ask for {method}:2 or {method}:3)")
    return method, n


@dataclass(frozen=True)
class AnalysisConfig:
    """What `latentatlas analyze` measures; every list may be emptied ('none') to skip that part."""
    features: str = setting("mean", "codes analysed: AE codes / VAE means; VAE [mu, logvar]; sampled z (seeded)",
                            choices=FEATURE_KINDS)
    projections: list[str] = setting(
        help="METHOD:DIMS list, METHOD in pca, lda, tsne, umap; 'none' to skip", parse=csv_list, metavar="LIST",
        factory=lambda: ["pca:2", "pca:3", "lda:2", "lda:3", "tsne:2", "umap:2"])
    projection_max_samples: int | None = setting(None, "fit projections on a seeded subsample of N codes",
                                                 metavar="N", default_text="all")
    # 70,000 codes take about 4 min of 2-D t-SNE on 2 cores.
    tsne_max_samples: int | None = setting(20000, "2-D t-SNE on a seeded subsample of N codes; 0 = all",
                                           parse=int_or_all, metavar="N")
    # Barnes-Hut 3-D t-SNE is O(N log N) per step with a large constant: subsample.
    tsne_3d_max_samples: int = setting(10000, "3-D t-SNE (Barnes-Hut) subsample", metavar="N")
    raw_baseline: bool = setting(True, "skip the raw-pixel projections (the 'before' to the codes' 'after')",
                                 flag="--no-raw", action="store_false", default_text="with them")
    raw_max_samples: int = setting(5000, "raw-pixel projections on a seeded subsample of N images", metavar="N")
    quality_max_samples: int = setting(5000, "points scored by kNN accuracy / silhouette / trustworthiness",
                                       metavar="N")
    probes: list[str] = setting(help="svm, logreg, knn; 'none' to skip", parse=csv_list, metavar="LIST",
                                factory=lambda: ["svm", "logreg", "knn"])
    svm_solver: str = setting("auto", "exact RBF SVC, or a Nystroem kernel map + linear SVM; auto picks by size",
                              choices=SVM_SOLVERS)
    # Exact SVC on 60k MNIST codes: about 10 s of CPU.
    svm_exact_max_samples: int = setting(70000, "'auto' uses the exact SVC up to N training codes", metavar="N")
    clusterers: list[str] = setting(help="gmm, kmeans, n2d; 'none' to skip", parse=csv_list, metavar="LIST",
                                    factory=lambda: ["gmm", "kmeans", "n2d"])
    cluster_split: str = setting("all", "codes clustered: all (train + test, as N2D), train or test",
                                 choices=("all", "train", "test"))
    n_clusters: int | None = setting(None, "clusters", metavar="K", default_text="the number of classes")
    covariance_type: str = setting("full", "Gaussian mixture covariance",
                                   choices=("full", "tied", "diag", "spherical"))
    # N2D on MNIST: a single initialisation may merge two digits.
    n_init: int = setting(5, "GMM / k-means restarts")
    n2d_neighbors: int = setting(20, "N2D's UMAP n_neighbors (McConville et al. 2020 use 20 on MNIST)")
    # The exact KD-tree grows as N^1.77 on 16-d codes; 100,000 keeps MNIST-sized runs exact (project.KNN_EXACT_MAX).
    knn_exact_max_samples: int = setting(100000, "exact kNN graph (UMAP, t-SNE, N2D) and kNN probe up to N codes, "
                                         "approximate nearest-neighbour descent above; 0 = always exact",
                                         metavar="N")
    # Seeded UMAP runs its layout on one thread (umap-learn); from 4 jobs up the parallel layout
    # saves more than bit-reproducibility is worth by default (estimators/project.py, UMAPProjection).
    umap_layout: str = setting("auto", "UMAP's layout: seeded (bit-reproducible, one thread), parallel (every job; "
                               "same quality, not bit-reproducible), auto = parallel from 4 jobs up",
                               choices=UMAP_LAYOUTS)
    lanes: str = setting("auto", "projections, probes and clustering side by side in processes, each on a share "
                         "of the jobs (same algorithms): auto = from 8 jobs up, on, off = one process",
                         choices=LANE_MODES)
    interactive: bool = setting(True, "no plotly 3-D HTML figures", flag="--no-interactive", action="store_false",
                                default_text="with them")
    hover_images: int = setting(2000, "points per interactive figure that show their image on hover", metavar="N")
    seed: int = setting(0, "seed of every subsample and estimator", flag="--analysis-seed")
    n_jobs: int | None = setting(None, "CPU threads for kNN, t-SNE, UMAP, scikit-learn", aliases=("--jobs",),
                                 default_text="every core this process may use")
    # "auto" keeps the CPU libraries (and their figures) on a machine without a CUDA GPU.
    backend: str = setting("auto", "who computes kNN graph, UMAP, k-means, logreg/kNN probes: cpu libraries, "
                           "torch (TorchDR; the GPU if any), auto = torch on a CUDA GPU else cpu",
                           choices=ANALYSIS_BACKENDS)

    def __post_init__(self):
        _one_of("features", self.features, FEATURE_KINDS)
        for spec in self.projections:
            parse_projection_spec(spec)
        for name in self.probes:
            PROBES.check(name)
        for name in self.clusterers:
            CLUSTERERS.check(name)
        _one_of("svm_solver", self.svm_solver, SVM_SOLVERS)
        _one_of("backend", self.backend, ANALYSIS_BACKENDS)
        _one_of("umap_layout", self.umap_layout, UMAP_LAYOUTS)
        _one_of("lanes", self.lanes, LANE_MODES)
        _one_of("cluster_split", self.cluster_split, ("all", "train", "test"))
        _one_of("covariance_type", self.covariance_type, ("full", "tied", "diag", "spherical"))
        if self.n_clusters is not None and self.n_clusters < 2:
            raise UserError(f"n_clusters = {self.n_clusters}: clustering needs at least 2 clusters")
        _at_least(self, ("n_init", "raw_max_samples", "quality_max_samples", "tsne_3d_max_samples",
                         "n2d_neighbors"), 1)
        _at_least(self, ("n_jobs",), 1, allow_none=True)
        _at_least(self, ("knn_exact_max_samples",), 0)
        _at_least(self, ("projection_max_samples", "tsne_max_samples"), 10, allow_none=True)


SAMPLER_CHOICES = tuple(SAMPLERS) + ("all",)


@dataclass(frozen=True)
class GenerateConfig:
    """What `latentatlas sample / interpolate / judge` (and `run`) generate and measure."""
    samplers: list[str] = setting(help="latent samplers: prior (VAE only), gaussian, class-gaussian, gmm, all "
                                       "(every one that applies)", flag="--sampler", nargs="+",
                                  choices=SAMPLER_CHOICES, factory=lambda: ["all"])
    n_per_class: int = setting(10, "images per class in each sample grid (class-less samplers: rows of 10)",
                               aliases=("-n",))
    classes: list[str] | None = setting(None, "class-aware grids, class means and the tour: only these classes "
                                              "(label or name)", flag="--generate-classes", own_flag="--classes",
                                        nargs="+", metavar="CLASS", default_text="all")
    n_components: int = setting(10, "Gaussian-mixture components (study 004)", flag="--components")
    judge: bool = setting(True, "grade generated images with the independent pixel classifier "
                                "(fidelity, Frechet distance)")
    n_judge: int = setting(5000, "generated images per sampler that the judge labels (and the FD uses)")
    walks: list[list[str]] | None = setting(None, "walk between two class means (repeatable)", flag="--walk",
                                            nargs=2, action="append", metavar=("CLASS_A", "CLASS_B"),
                                            default_text="the closest and the farthest pair")
    walk_indices: list[list[int]] | None = setting(None, "test-image index pairs to walk between", cli=False)
    steps: int = setting(12, "images per walk, endpoints included")
    tour: bool = setting(True, "a GIF through every class mean (study 004)")
    traverse: bool = setting(True, "vary one latent dimension at a time around the data mean")
    traverse_k: float = setting(3.0, "traversal range: +- this many standard deviations of each dimension")
    manifold_n: int = setting(20, "2-d latent: an n x n decoded grid over the occupied region")
    seed: int = setting(0, "seed of sampling", flag="--generate-seed", own_flag="--seed")

    def __post_init__(self):
        for name in self.samplers:
            if name != "all":
                SAMPLERS.check(name)
        options = {"n_per_class": "-n/--n-per-class", "n_components": "--components", "n_judge": "--n-judge"}
        for key, option in options.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"the sample count {key} ({option}) must be a positive whole number, not {value!r}")
        if self.steps < 2:
            raise UserError(f"steps (--steps) must be at least 2 (the two endpoints), not {self.steps}")
        _at_least(self, ("manifold_n",), 2)
        if not self.traverse_k > 0:
            raise UserError(f"traverse_k must be > 0 (standard deviations), not {self.traverse_k}")
        for pair in (self.walks or []) + (self.walk_indices or []):
            if len(pair) != 2:
                raise UserError(f"a walk needs exactly two endpoints, got {pair!r}")
