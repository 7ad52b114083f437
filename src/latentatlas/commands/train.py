"""`latentatlas train`: train a conv AE or VAE into a run folder.

    latentatlas train --dataset mnist --model vae --latent-dim 10 --epochs 20 --out runs/vae10
    latentatlas train --preset study001-vae-svm --out runs/study001
    latentatlas train --config my.toml --out runs/mine       ([data] [model] [train] tables)
    latentatlas train --out runs/vae10 --resume              (continue a stopped run)
    torchrun --nproc-per-node 2 -m latentatlas train ...     (data-parallel, same options)

Settings are resolved in this order, later winning: defaults, --preset, --config,
the run's own config.json (with --resume), then the options given on the line.
The options are made from the settings declarations (latentatlas.settings).
"""

from __future__ import annotations

import contextlib
import os

from ..settings import add_section_options
from . import HelpFormatter, add_wait_option

EXAMPLES = """examples:
  latentatlas train --dataset mnist --model vae --latent-dim 10 --epochs 20 --out runs/vae10
  latentatlas train --preset default-ae --out runs/ae
  latentatlas train --out runs/vae10 --resume --epochs 20
  torchrun --nproc-per-node 2 -m latentatlas train --preset default-vae --out runs/ddp
"""


def add_parser(sub):
    p = sub.add_parser("train", help="train a conv autoencoder or VAE into a run folder",
                       description=__doc__.split("\n\n")[0] + "\n\n" + EXAMPLES,
                       formatter_class=HelpFormatter)
    p.add_argument("--out", default=None, help="run folder (default: runs/<preset or dataset-model>)")
    p.add_argument("--preset", default=None, help="a named preset (see presets/), e.g. default-vae, demo")
    p.add_argument("--config", default=None, help="a TOML or JSON file with [data] [model] [train] tables")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last completed epoch")
    p.add_argument("--overwrite", action="store_true", help="train again from scratch into an existing run")
    add_wait_option(p)
    for section in TRAIN_SECTIONS:
        add_section_options(p, section)
    return p


TRAIN_SECTIONS = ("data", "model", "train")


def _base_tables(args) -> list[dict]:
    """The tables under the options, lowest precedence first: the preset, the config file,
    and (resuming) the run's own config.json."""
    from ..rundir import RunDir
    from ..settings import read_config_file, read_preset

    tables = []
    if getattr(args, "preset", None):
        tables.append(read_preset(args.preset))
    if getattr(args, "config", None):
        tables.append(read_config_file(args.config))
    if getattr(args, "resume", False) and getattr(args, "out", None):
        tables.append(RunDir(args.out).read_config())
    return tables


def train_config_from_args(args):
    """-> (DataConfig, ModelConfig, TrainConfig) from presets, files and the options given."""
    from ..settings import resolve_sections

    sections = resolve_sections(TRAIN_SECTIONS, *_base_tables(args), args=args)
    return tuple(sections[s] for s in TRAIN_SECTIONS)


def default_out(args, data_cfg, model_cfg) -> str:
    if getattr(args, "out", None):
        return args.out
    name = args.preset if getattr(args, "preset", None) else f"{data_cfg.name}-{model_cfg.name}"
    return f"runs/{name.replace(':', '-').replace('/', '-')}"


def _keep_preset_stages(out, preset: str) -> None:
    """Copy the preset's [analysis], [generate] and [study] tables into the run's config.json
    (where the run has none yet), so `analyze`, `sample` and `report` on this run follow the
    preset as `latentatlas run --preset` does."""
    from ..rundir import RunDir
    from ..settings import read_preset

    tables = read_preset(preset)
    run = RunDir(out)
    config = run.read_config()
    added = {k: tables[k] for k in ("analysis", "generate", "study") if isinstance(tables.get(k), dict)
             and k not in config}
    if added:
        run.update_config(added)


def run(args) -> int:
    from ..rundir import RunDir
    from ..stages.train import train_run

    data_cfg, model_cfg, train_cfg = train_config_from_args(args)
    out = default_out(args, data_cfg, model_cfg)
    # One lock over training and the preset's stage tables, so config.json has one writer at a
    # time. Under torchrun only rank 0 writes (and locks); the other ranks only train.
    rank0 = os.environ.get("RANK", "0") == "0"
    with RunDir(out).lock(wait=args.wait, command="latentatlas train") if rank0 else contextlib.nullcontext():
        metrics = train_run(out, data_cfg, model_cfg, train_cfg, resume=args.resume, overwrite=args.overwrite,
                            wait=args.wait)
        if metrics is not None and rank0 and getattr(args, "preset", None):
            _keep_preset_stages(out, args.preset)
    if metrics is not None:
        print(f"trained {metrics['model']} (latent {metrics['latent_dim']}) for {metrics['epochs']} epochs: "
              f"test loss {metrics['test_loss']:.4f} per image, test MSE {metrics['test_mse']:.5f}; "
              f"run folder {out}")
    return 0
