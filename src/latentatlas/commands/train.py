"""`latentatlas train`: train a conv AE or VAE into a run folder.

    latentatlas train --dataset mnist --model vae --latent-dim 10 --epochs 20 --out runs/vae10
    latentatlas train --preset study001-vae-svm --out runs/study001
    latentatlas train --config my.toml --out runs/mine       ([data] [model] [train] tables)
    latentatlas train --out runs/vae10 --resume              (continue a stopped run)
    torchrun --nproc-per-node 2 -m latentatlas train ...     (data-parallel, same options)

Settings are resolved in this order, later winning: defaults, --preset, --config,
the run's own config.json (with --resume), then the options given on the line.
`add_train_args` and `train_config_from_args` are reused by `latentatlas run`.
"""

from __future__ import annotations

import argparse

from . import HelpFormatter, add_common_data_args

EXAMPLES = """examples:
  latentatlas train --dataset mnist --model vae --latent-dim 10 --epochs 20 --out runs/vae10
  latentatlas train --preset default-ae --out runs/ae
  latentatlas train --out runs/vae10 --resume --epochs 20
  torchrun --nproc-per-node 2 -m latentatlas train --preset default-vae --out runs/ddp
"""


def _csv(kind):
    def parse(text: str):
        items = [t.strip() for t in str(text).split(",") if t.strip()]
        try:
            return [kind(t) for t in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from None
    return parse


def _widths(text: str):
    """--hidden-dim: '512' -> 512 (one dense layer), '1024,256' -> [1024, 256] (a deeper bottleneck)."""
    widths = _csv(int)(text)
    if not widths:
        raise argparse.ArgumentTypeError(f"expected a width or comma-separated widths, got {text!r}")
    return widths[0] if len(widths) == 1 else widths


# option dest -> (section, key in that section's dataclass)
OPTION_KEYS = {
    "dataset": ("data", "name"), "data_dir": ("data", "data_dir"), "classes": ("data", "classes"),
    "image_size": ("data", "image_size"),
    "model": ("model", "name"), "latent_dim": ("model", "latent_dim"), "channels": ("model", "channels"),
    "hidden_dim": ("model", "hidden_dim"), "batch_norm": ("model", "batch_norm"),
    "activation": ("model", "activation"), "final_conv": ("model", "final_conv"),
    "convs_per_stage": ("model", "convs_per_stage"),
    "n_components": ("model", "n_components"), "pretrain_epochs": ("model", "pretrain_epochs"),
    "loss": ("model", "loss"), "beta": ("model", "beta"),
    "epochs": ("train", "epochs"), "batch_size": ("train", "batch_size"), "optimizer": ("train", "optimizer"),
    "lr": ("train", "lr"), "weight_decay": ("train", "weight_decay"), "momentum": ("train", "momentum"),
    "schedule": ("train", "schedule"), "grad_clip": ("train", "grad_clip"),
    "input_noise": ("train", "input_noise"), "seed": ("train", "seed"),
    "device": ("train", "device"), "threads": ("train", "threads"),
    "max_train_images": ("train", "max_train_images"), "amp": ("train", "amp"),
    "progress_every": ("train", "progress_every"),
}


def add_train_args(p: argparse.ArgumentParser) -> None:
    """Data, model and training options; every default is None = "not given" (the
    preset, config file or dataclass default applies)."""
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default=None, help="mnist, fashion-mnist, mnist-sample, folder:PATH, npz:PATH "
                                                   "[default: mnist]")
    if not any("--data-dir" in a.option_strings for a in p._actions):
        add_common_data_args(g)
    g.add_argument("--classes", type=_csv(str), default=None, help="keep only these classes, e.g. 1,4,8")
    g.add_argument("--image-size", type=int, default=None, help="resize user images to this square size")
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None,
                   help="ae, vae, study000-cae, study001-vae, study002-ae, study003-vae, study004-ae [default: vae]")
    g.add_argument("--latent-dim", type=int, default=None, help="size of the latent code")
    g.add_argument("--channels", type=_csv(int), default=None, help="conv widths, e.g. 32,64 (one stride-2 stage each)")
    g.add_argument("--hidden-dim", type=_widths, default=None,
                   help="dense layer(s) before the code: a width, or widths such as 1024,256 (0: none)")
    g.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None, help="BatchNorm layers")
    g.add_argument("--activation", default=None, help="relu, leaky_relu, silu, elu, gelu")
    g.add_argument("--final-conv", action=argparse.BooleanOptionalAction, default=None,
                   help="a full-resolution 3x3 convolution at the end of the decoder")
    g.add_argument("--convs-per-stage", type=int, default=None,
                   help="3x3 convolutions per resolution (1: the stride-2 one only)")
    g.add_argument("--loss", default=None, help="reconstruction loss: bce or mse")
    g.add_argument("--beta", type=float, default=None, help="weight of the VAE's KL term")
    g.add_argument("--n-components", type=int, default=None,
                   help="vade: components of the Gaussian-mixture prior [default: 10]")
    g.add_argument("--pretrain-epochs", type=int, default=None,
                   help="vade: plain-VAE epochs before the mixture prior is fitted [default: 2]")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=None, help="[default: 5]")
    g.add_argument("--batch-size", type=int, default=None, help="[default: 64]")
    g.add_argument("--optimizer", default=None,
                   help="adam, adamw, rmsprop, sgd, muon (Muon on weight matrices, Adam on the rest) [default: adam]")
    g.add_argument("--lr", type=float, default=None, help="(peak) learning rate [default: 0.002]")
    g.add_argument("--weight-decay", type=float, default=None)
    g.add_argument("--momentum", type=float, default=None, help="SGD/RMSprop momentum")
    g.add_argument("--schedule", default=None, help="none, cosine, onecycle [default: onecycle]")
    g.add_argument("--grad-clip", type=float, default=None, help="clip the gradient norm to this")
    g.add_argument("--input-noise", type=float, default=None,
                   help="denoising: std of Gaussian noise added to training inputs [default: 0]")
    g.add_argument("--seed", type=int, default=None, help="[default: 0]")
    g.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N, mps [default: auto]")
    g.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    g.add_argument("--max-train-images", type=int, default=None, help="train on a seeded subset this large")
    g.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="bfloat16 autocast of the training pass [default: where the hardware "
                        "multiplies bfloat16: CUDA compute capability 8+, Intel AMX]")
    g.add_argument("--progress-every", type=int, default=None, help="progress grids every k epochs")


def add_parser(sub):
    p = sub.add_parser("train", help="train a conv autoencoder or VAE into a run folder",
                       description=__doc__.split("\n\n")[0] + "\n\n" + EXAMPLES,
                       formatter_class=HelpFormatter)
    p.add_argument("--out", default=None, help="run folder [default: runs/<preset or dataset-model>]")
    p.add_argument("--preset", default=None, help="a named preset (see presets/), e.g. default-vae, demo")
    p.add_argument("--config", default=None, help="a TOML or JSON file with [data] [model] [train] tables")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last completed epoch")
    p.add_argument("--overwrite", action="store_true", help="train again from scratch into an existing run")
    add_train_args(p)
    return p


def _base_tables(args) -> dict:
    """{section: dict} from the preset, the config file and (resuming) the run's config.json."""
    from ..config import read_config_file, read_preset
    from ..rundir import RunDir, read_json

    tables: dict = {"data": {}, "model": {}, "train": {}}

    def merge(raw: dict):
        for sec in tables:
            if isinstance(raw.get(sec), dict):
                tables[sec].update(raw[sec])

    if getattr(args, "preset", None):
        merge(read_preset(args.preset))
    if getattr(args, "config", None):
        merge(read_config_file(args.config))
    if getattr(args, "resume", False) and getattr(args, "out", None):
        rd = RunDir(args.out)
        if (rd / "config.json").exists():
            merge(read_json(rd / "config.json"))
    return tables


def train_config_from_args(args):
    """-> (DataConfig, ModelConfig, TrainConfig) from presets, files and the options given."""
    from ..config import DataConfig, ModelConfig, TrainConfig, build_dataclass

    tables = _base_tables(args)
    for dest, (sec, key) in OPTION_KEYS.items():
        value = getattr(args, dest, None)
        if value is not None:
            tables[sec][key] = value
    # A model change resets the model table's per-architecture keys taken from a preset
    # only when they do not fit the new model: build_model reports that precisely.
    source = "options"
    return (build_dataclass(DataConfig, tables["data"], "data", source),
            build_dataclass(ModelConfig, tables["model"], "model", source),
            build_dataclass(TrainConfig, tables["train"], "train", source))


def default_out(args, data_cfg, model_cfg) -> str:
    if getattr(args, "out", None):
        return args.out
    name = args.preset if getattr(args, "preset", None) else f"{data_cfg.name}-{model_cfg.name}"
    return f"runs/{name.replace(':', '-').replace('/', '-')}"


def _keep_preset_stages(out, preset: str) -> None:
    """Copy the preset's [analysis], [generate] and [study] tables into the run's config.json
    (where the run has none yet), so `analyze`, `sample` and `report` on this run follow the
    preset as `latentatlas run --preset` does."""
    from ..config import read_preset
    from ..rundir import CONFIG, RunDir, atomic_write_json, read_json

    tables = read_preset(preset)
    path = RunDir(out) / CONFIG
    config = read_json(path)
    added = {k: tables[k] for k in ("analysis", "generate", "study") if isinstance(tables.get(k), dict)
             and k not in config}
    if added:
        atomic_write_json(path, {**config, **added})


def run(args) -> int:
    from ..train import train_run

    data_cfg, model_cfg, train_cfg = train_config_from_args(args)
    out = default_out(args, data_cfg, model_cfg)
    metrics = train_run(out, data_cfg, model_cfg, train_cfg, resume=args.resume, overwrite=args.overwrite)
    if metrics is not None and getattr(args, "preset", None):
        _keep_preset_stages(out, args.preset)
    if metrics is not None:
        print(f"trained {metrics['model']} (latent {metrics['latent_dim']}) for {metrics['epochs']} epochs: "
              f"test loss {metrics['test_loss']:.4f} per image, test MSE {metrics['test_mse']:.5f}; "
              f"run folder {out}")
    return 0
