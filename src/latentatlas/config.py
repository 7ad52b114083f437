"""Configuration: one stdlib dataclass per stage, composed into a run's config.json.

Each stage's dataclass lives here so that `config.json`, presets (TOML) and the
CLI share one definition. Field names are the JSON/TOML keys.
"""

from __future__ import annotations

from dataclasses import dataclass

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd", "muon")


@dataclass
class DataConfig:
    name: str = "mnist"                 # registry name, "folder:PATH" or "npz:PATH"
    data_dir: str | None = None         # explicit folder (else LATENTATLAS_DATA, cache, system, download)
    classes: list[str] | None = None    # subset by label or class name, e.g. ["1", "4", "8"]
    image_size: int | None = None       # resize user images to this (square); None keeps the dataset's
    test_fraction: float = 0.2          # used only where the dataset has no split of its own
    split_seed: int = 0


@dataclass
class ModelConfig:
    """Which network (a key of latentatlas.models.MODELS) and its settings.

    Fields left None take the model's own defaults (see each class); model.json
    then records every resolved value.
    """
    name: str = "vae"                   # "ae", "vae", "study000-cae", "study001-vae", ...
    latent_dim: int | None = None       # size of the code (>= 1)
    channels: list[int] | None = None   # conv widths, one stride-2 stage each, e.g. [32, 64]
    hidden_dim: int | list[int] | None = None  # dense layer(s) between convolutions and code; 0 = none
    batch_norm: bool | None = None
    activation: str | None = None       # relu, leaky_relu, silu, elu, gelu
    final_conv: bool | None = None      # extra full-resolution 3x3 convolution at the decoder's end
    convs_per_stage: int | None = None  # 3x3 convolutions per resolution; >1 adds stride-1 ones
    loss: str | None = None             # reconstruction: "bce" or "mse"
    beta: float | None = None           # weight of the KL term (VAE); 1 = the ELBO
    n_components: int | None = None     # VaDE: components of the mixture prior
    pretrain_epochs: int | None = None  # VaDE: plain-VAE epochs before the mixture is fitted

    def __post_init__(self):
        from .errors import UserError

        if self.latent_dim is not None and (isinstance(self.latent_dim, bool) or int(self.latent_dim) < 1):
            raise UserError(f"latent size must be at least 1, not {self.latent_dim}")
        if self.loss is not None and self.loss not in ("bce", "mse"):
            raise UserError(f"loss {self.loss!r} is not one of bce, mse")
        if self.beta is not None and self.beta < 0:
            raise UserError(f"beta must be >= 0, not {self.beta}")
        if self.channels is not None and (not self.channels or min(self.channels) < 1):
            raise UserError(f"channels must be a non-empty list of positive widths, not {self.channels}")


@dataclass
class TrainConfig:
    """How to train: optimisation, schedule, device, checkpoints and progress images."""
    epochs: int = 5
    batch_size: int = 64                # 64 beat 128 per epoch within 5 epochs (bench_train.py)
    optimizer: str = "adam"             # adam, adamw, rmsprop, sgd, muon
    lr: float = 2e-3
    weight_decay: float = 0.0
    momentum: float = 0.9               # SGD and RMSprop only
    schedule: str = "onecycle"          # none, cosine, onecycle (stepped per batch)
    grad_clip: float | None = None      # clip the global gradient norm to this
    # std of Gaussian noise added to each training input (clipped to [0, 1]); the loss still
    # compares with the clean image: a denoising autoencoder (Vincent et al. 2008). 0 = off.
    input_noise: float = 0.0
    seed: int = 0
    device: str = "auto"                # auto (cuda, mps, cpu), cpu, cuda, cuda:1, mps
    threads: int | None = None          # torch CPU threads; None keeps torch's default
    max_train_images: int | None = None # train on a seeded subset of this many images
    # bfloat16 autocast of the training pass; "auto": where the hardware multiplies bfloat16
    # (CUDA compute capability 8+, CPUs with Intel AMX), see training/devices.py.
    amp: bool | Literal["auto"] = "auto"
    channels_last: bool = True          # NHWC memory layout: ~15% faster convolutions on CPU
    progress_every: int = 1             # progress grids every k epochs (0 = only the last)
    progress_images: int = 64           # latent points decoded in each progress grid

    def __post_init__(self):
        from .errors import UserError

        if self.epochs < 0:
            raise UserError(f"epochs must be >= 0, not {self.epochs}")
        if self.batch_size < 1:
            raise UserError(f"batch_size must be at least 1, not {self.batch_size}")
        if self.lr <= 0:
            raise UserError(f"lr (learning rate) must be > 0, not {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise UserError(f"optimizer {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in ("none", "cosine", "onecycle"):
            raise UserError(f"schedule {self.schedule!r} is not one of none, cosine, onecycle")
        if self.weight_decay < 0:
            raise UserError(f"weight_decay must be >= 0, not {self.weight_decay}")
        if not self.input_noise >= 0:
            raise UserError(f"input_noise must be >= 0 (a standard deviation), not {self.input_noise}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise UserError(f"grad_clip must be > 0 (or left out), not {self.grad_clip}")
        if self.threads is not None and self.threads < 1:
            raise UserError(f"threads must be at least 1, not {self.threads}")
        if self.max_train_images is not None and self.max_train_images < 1:
            raise UserError(f"max_train_images must be at least 1, not {self.max_train_images}")
        if self.progress_every < 0 or self.progress_images < 1:
            raise UserError("progress_every must be >= 0 and progress_images >= 1")
        if not (isinstance(self.amp, bool) or self.amp == "auto"):
            raise UserError(f"amp must be true, false or \"auto\", not {self.amp!r}")


# --- AnalysisConfig (the analysis issue) --------------------------------------------------

from dataclasses import field as _field  # noqa: E402

# Projection methods and the most output dimensions each may be asked for in a figure.
# (t-SNE: openTSNE's FFT gradients work in 1-2 D, Barnes-Hut beyond; a scatter shows <= 3.)
PROJECTION_METHODS = {"pca": 3, "lda": 3, "tsne": 3, "umap": 3}
PROBE_METHODS = ("svm", "logreg", "knn")
CLUSTER_METHODS = ("gmm", "kmeans", "n2d")
FEATURE_KINDS = ("mean", "mu+logvar", "z")


def parse_projection_spec(spec: str) -> tuple[str, int]:
    """"umap:2" -> ("umap", 2); one line naming the problem if the spec is wrong."""
    from .errors import UserError

    method, _, dims = str(spec).strip().lower().partition(":")
    if method not in PROJECTION_METHODS:
        raise UserError(f"unknown projection {spec!r}; use METHOD:DIMS with METHOD one of "
                        f"{', '.join(PROJECTION_METHODS)} (e.g. pca:2,umap:3)")
    try:
        n = int(dims or 2)
    except ValueError:
        raise UserError(f"projection {spec!r}: DIMS must be 1, 2 or 3 (e.g. {method}:2)") from None
    if not 1 <= n <= PROJECTION_METHODS[method]:
        raise UserError(f"projection {spec!r} asks for {n} dimensions; {method} draws at most "
                        f"{PROJECTION_METHODS[method]} (ask for {method}:2 or {method}:3)")
    return method, n


@dataclass
class AnalysisConfig:
    """What `latentatlas analyze` measures; every list may be emptied to skip that part."""
    features: str = "mean"             # "mean" (AE codes / VAE means) | "mu+logvar" | "z" (sampled, seeded)
    projections: list[str] = _field(default_factory=lambda: [
        "pca:2", "pca:3", "lda:2", "lda:3", "tsne:2", "umap:2"])
    projection_max_samples: int | None = None  # fit projections on at most this many codes (None: all)
    tsne_max_samples: int | None = 20000  # 2-D t-SNE subsample (None: all; 70,000 codes take ~4 min on 2 cores)
    tsne_3d_max_samples: int = 10000   # Barnes-Hut 3-D t-SNE is O(N log N) per step and slow: subsample
    raw_baseline: bool = True          # project the raw pixels too (the "before" to the latent "after")
    raw_max_samples: int = 5000        # raw-pixel projections run on a seeded subsample of this size
    quality_max_samples: int = 5000    # kNN accuracy / silhouette / trustworthiness on this many points
    probes: list[str] = _field(default_factory=lambda: ["svm", "logreg", "knn"])
    svm_solver: str = "auto"           # "exact" (libsvm RBF) | "nystroem" (kernel map + linear SVM) | "auto"
    svm_exact_max_samples: int = 70000  # "auto" switches to Nystroem above this (exact SVC, 60k MNIST codes: ~10 s CPU)
    clusterers: list[str] = _field(default_factory=lambda: ["gmm", "kmeans", "n2d"])
    cluster_split: str = "all"         # codes clustered: "all" (train+test, as N2D) | "train" | "test"
    n_clusters: int | None = None      # None: the number of classes
    covariance_type: str = "full"      # GaussianMixture covariance: full | tied | diag | spherical
    n_init: int = 5                    # GMM / k-means restarts (N2D on MNIST: 1 init may merge two digits)
    n2d_neighbors: int = 20            # N2D's UMAP n_neighbors (McConville et al. 2020 use 20 on MNIST)
    interactive: bool = True           # plotly 3-D HTML for every 3-D projection
    hover_images: int = 2000           # points of an interactive figure that show their image on hover
    seed: int = 0
    n_jobs: int = 2

    def __post_init__(self):
        from .errors import UserError

        if self.features not in FEATURE_KINDS:
            raise UserError(f"features {self.features!r} is not one of {', '.join(FEATURE_KINDS)}")
        for spec in self.projections:
            parse_projection_spec(spec)
        for name in self.probes:
            if name not in PROBE_METHODS:
                raise UserError(f"unknown probe {name!r}; choose from {', '.join(PROBE_METHODS)}")
        for name in self.clusterers:
            if name not in CLUSTER_METHODS:
                raise UserError(f"unknown clusterer {name!r}; choose from {', '.join(CLUSTER_METHODS)}")
        if self.svm_solver not in ("auto", "exact", "nystroem"):
            raise UserError(f"svm_solver {self.svm_solver!r} is not one of auto, exact, nystroem")
        if self.cluster_split not in ("all", "train", "test"):
            raise UserError(f"cluster_split {self.cluster_split!r} is not one of all, train, test")
        if self.n_clusters is not None and self.n_clusters < 2:
            raise UserError(f"n_clusters = {self.n_clusters}: clustering needs at least 2 clusters")
        if self.covariance_type not in ("full", "tied", "diag", "spherical"):
            raise UserError(f"covariance_type {self.covariance_type!r} is not one of full, tied, diag, spherical")
        for name in ("n_init", "raw_max_samples", "quality_max_samples", "tsne_3d_max_samples", "n2d_neighbors"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("projection_max_samples", "tsne_max_samples"):
            if getattr(self, name) is not None and getattr(self, name) < 10:
                raise UserError(f"{name} must be at least 10 (or none for all), not {getattr(self, name)}")


# --- GenerateConfig (the generation issue) ------------------------------------------------

from dataclasses import field as _gen_field  # noqa: E402

SAMPLER_NAMES = ("prior", "gaussian", "class-gaussian", "gmm")


@dataclass
class GenerateConfig:
    """What `latentatlas sample / interpolate / judge` (and `run`) generate and measure."""
    samplers: list[str] = _gen_field(default_factory=lambda: ["all"])  # prior (VAE), gaussian, class-gaussian, gmm; all = every one that applies
    n_per_class: int = 10              # images per class (one grid row each); class-less samplers: a 10-column grid of this many rows
    classes: list[str] | None = None   # class-aware grids and the tour: only these classes (label or name)
    n_components: int = 10             # Gaussian-mixture components (study 004)
    judge: bool = True                 # label generated images with the independent classifier; Frechet distances
    n_judge: int = 5000                # generated images per sampler that the judge labels (and the FD uses)
    walks: list[list[str]] | None = None          # class pairs to walk between; None: the closest and farthest class means
    walk_indices: list[list[int]] | None = None   # test-image index pairs to walk between
    steps: int = 12                    # images per walk (endpoints included)
    tour: bool = True                  # one GIF through every class mean (study 004)
    traverse: bool = True              # vary one latent dimension at a time around the data mean
    traverse_k: float = 3.0            # traversal range: +- this many standard deviations of each dimension
    manifold_n: int = 20               # 2-d latent: an n x n decoded grid over the occupied region
    seed: int = 0

    def __post_init__(self):
        from .errors import UserError

        for name in self.samplers:
            if name not in SAMPLER_NAMES + ("all",):
                raise UserError(f"unknown sampler {name!r}; choose from {', '.join(SAMPLER_NAMES)} or all")
        options = {"n_per_class": "-n/--n-per-class", "n_components": "--components", "n_judge": "--n-judge"}
        for key, option in options.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"the sample count {key} ({option}) must be a positive whole number, not {value!r}")
        if self.steps < 2:
            raise UserError(f"steps (--steps) must be at least 2 (the two endpoints), not {self.steps}")
        if self.manifold_n < 2:
            raise UserError(f"manifold_n must be at least 2, not {self.manifold_n}")
        if not self.traverse_k > 0:
            raise UserError(f"traverse_k must be > 0 (standard deviations), not {self.traverse_k}")
        for pair in (self.walks or []) + (self.walk_indices or []):
            if len(pair) != 2:
                raise UserError(f"a walk needs exactly two endpoints, got {pair!r}")


# --- RunConfig, load/save/validate, presets (the run/report issue) -----------------------
#
# A run's configuration is one dataclass per stage, composed into RunConfig; it is
# written as config.json and read from presets (TOML, package data) or a user's
# TOML/JSON file. Every key is checked against the dataclass fields and their
# annotated types, so a typo or a wrong type ends in one line naming the key.

import difflib  # noqa: E402
from dataclasses import asdict, field, fields, is_dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from types import UnionType  # noqa: E402
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints  # noqa: E402

from .errors import UserError  # noqa: E402

SECTIONS = ("data", "model", "train", "analysis", "generate")


@dataclass
class StudyFigure:
    """One figure quoted from a study's write-up, and where our number for it lives."""
    name: str                                  # what is measured, e.g. "test loss after 20 epochs"
    published: float | int | str | None = None  # the study's figure, quoted (a number or its words)
    metric: str | None = None                  # dotted path into metrics.json for our number
    better: str | None = None                  # "lower" | "higher" | None (no direction)
    note: str | None = None                    # how the two are compared, caveats


@dataclass
class StudyConfig:
    """A preset's quotation of the study it rebuilds (the only typed-in figures)."""
    title: str = ""
    source: str = ""                           # where the quoted figures come from
    baseline: str | None = None                # our run to compare with, e.g. "default-vae" (runs/<baseline>)
    baseline_options: str | None = None        # options that run it from its preset, e.g. "--dataset fashion-mnist"
    figures: list[StudyFigure] = field(default_factory=list)


def _section_classes() -> dict[str, type | None]:
    """Stage name -> its dataclass, or None while that stage's issue has not landed."""
    g = globals()
    names = {"data": "DataConfig", "model": "ModelConfig", "train": "TrainConfig",
             "analysis": "AnalysisConfig", "generate": "GenerateConfig"}
    return {section: g.get(cls) for section, cls in names.items()}


@dataclass
class RunConfig:
    """Everything one `latentatlas run` does: one section per stage (+ an optional study)."""
    data: Any = None
    model: Any = None
    train: Any = None
    analysis: Any = None
    generate: Any = None
    study: StudyConfig | None = None

    def __post_init__(self):
        for section, cls in _section_classes().items():
            if getattr(self, section) is None:
                setattr(self, section, cls() if cls is not None else {})

    def section_dict(self, section: str) -> dict:
        value = getattr(self, section)
        return asdict(value) if is_dataclass(value) else dict(value or {})

    def to_dict(self) -> dict:
        out = {section: self.section_dict(section) for section in SECTIONS}
        if self.study is not None:
            out["study"] = asdict(self.study)
        return out

    @classmethod
    def from_dict(cls, raw: dict, source: str = "config") -> "RunConfig":
        if not isinstance(raw, dict):
            raise UserError(f"{source}: expected a table of sections ({', '.join(SECTIONS)}, study)")
        allowed = SECTIONS + ("study",)
        for key in raw:
            if key not in allowed:
                raise UserError(f"{source}: unknown section {key!r}; the sections are {', '.join(allowed)}")
        kwargs = {}
        for section, sec_cls in _section_classes().items():
            if section in raw:
                if sec_cls is None:  # that stage has no dataclass yet: keep its table as given
                    kwargs[section] = _check_value(raw[section], dict, section, source)
                else:
                    kwargs[section] = build_dataclass(sec_cls, raw[section], section, source)
        if "study" in raw:
            kwargs["study"] = build_dataclass(StudyConfig, raw["study"], "study", source)
        return cls(**kwargs)


# -- type checking of config values -------------------------------------------------------

def _type_name(tp) -> str:
    origin = get_origin(tp)
    if tp is type(None):
        return "nothing (omit the key)"
    if tp is Any:
        return "any value"
    if origin in (Union, UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (list, tuple):
        args = get_args(tp)
        plural = {str: "strings", int: "integers", float: "numbers", bool: "true/false values"}
        return f"a list of {plural.get(args[0], _type_name(args[0]))}" if args else "a list"
    if origin is dict:
        return "a table"
    if is_dataclass(tp):
        return "a table"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            dict: "a table", list: "a list"}.get(tp, getattr(tp, "__name__", str(tp)))


def _check_value(value, tp, key: str, source: str):
    """Return `value` (ints widened to float where a float is wanted) or raise UserError."""
    def bad():
        raise UserError(f"{source}: {key} = {value!r} has the wrong type; expected {_type_name(tp)}")

    if tp is Any:
        return value
    origin = get_origin(tp)
    if origin in (Union, UnionType):
        options = [a for a in get_args(tp) if value is None or a is not type(None)]
        if len(options) == 1:  # `X | None` given a value: check X, whose message is more precise
            return _check_value(value, options[0], key, source)
        for arg in options:
            try:
                return _check_value(value, arg, key, source)
            except UserError:
                continue
        bad()
    if tp is type(None):
        return value if value is None else bad()
    if origin is Literal:
        return value if value in get_args(tp) else bad()
    if is_dataclass(tp):
        return build_dataclass(tp, value, key, source)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            bad()
        args = get_args(tp)
        item = args[0] if args else Any
        items = [_check_value(v, item, f"{key}[{i}]", source) for i, v in enumerate(value)]
        return tuple(items) if (origin or tp) is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            bad()
        args = get_args(tp)
        return {k: _check_value(v, args[1], f"{key}.{k}", source) for k, v in value.items()} if args else value
    if tp is bool:
        return value if isinstance(value, bool) else bad()
    if tp is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else bad()
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        bad()
    if tp is str:
        return value if isinstance(value, str) else bad()
    if isinstance(tp, type):
        return value if isinstance(value, tp) else bad()
    return value  # an annotation we cannot check (a forward reference): accept


def build_dataclass(cls, raw, section: str, source: str = "config"):
    """cls(**raw) after checking every key is a field and every value has the field's type."""
    if is_dataclass(raw) and isinstance(raw, cls):
        return raw
    if not isinstance(raw, dict):
        raise UserError(f"{source}: [{section}] must be a table of settings, not {type(raw).__name__}")
    hints = get_type_hints(cls)
    names = [f.name for f in fields(cls) if f.init]
    kwargs = {}
    for key, value in raw.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"{source}: unknown key {section}.{key}{hint}; "
                            f"[{section}] accepts: {', '.join(names)}")
        kwargs[key] = _check_value(value, hints.get(key, Any), f"{section}.{key}", source)
    try:
        return cls(**kwargs)
    except UserError:
        raise
    except (TypeError, ValueError) as exc:  # the dataclass's own validation
        raise UserError(f"{source}: [{section}] {exc}") from None


# -- files and presets -------------------------------------------------------------------

def read_config_file(path) -> dict:
    """The raw table of a TOML or JSON configuration file (UserError if unreadable)."""
    import json
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} does not exist; give a .toml or .json file")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        if path.suffix.lower() == ".toml":
            return tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path} is not valid {path.suffix[1:].upper()} ({exc}); fix the file") from None
    raise UserError(f"config file {path} must end in .toml or .json")


def load_config(path) -> RunConfig:
    """A RunConfig from a TOML or JSON file; missing sections and keys take their defaults."""
    return RunConfig.from_dict(read_config_file(path), source=str(path))


def save_config(path, cfg: RunConfig) -> None:
    """Write the resolved configuration as JSON, atomically."""
    from .rundir import atomic_write_json

    atomic_write_json(path, cfg.to_dict())


def _presets_folder():
    from importlib.resources import files

    return files("latentatlas") / "presets"


def list_presets() -> list[str]:
    """Names of the presets shipped with the package (presets/<name>.toml)."""
    folder = _presets_folder()
    if not folder.is_dir():
        return []
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def read_preset(name: str) -> dict:
    """The raw table of a preset; UserError naming the presets that exist."""
    import tomllib

    names = list_presets()
    if name not in names:
        raise UserError(f"unknown preset {name!r}; the presets are: {', '.join(names) or '(none installed)'}")
    text = (_presets_folder() / f"{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_preset(name: str) -> RunConfig:
    return RunConfig.from_dict(read_preset(name), source=f"preset {name}")
