"""`latentatlas encode RUN_DIR`: latent codes of the train and test splits -> latents.npz.

    latentatlas encode runs/vae10
    latentatlas encode runs/vae10 --batch-size 2048 --device cuda

Stores AE codes, or a VAE's means and log-variances (analysis uses the means
unless told otherwise: `latentatlas analyze --features mu+logvar | z`).
"""

from __future__ import annotations

from . import HelpFormatter, add_device_option, add_wait_option


def add_parser(sub):
    p = sub.add_parser("encode", help="encode a run's train and test images to latent codes (latents.npz)",
                       description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a trained run folder (model.json + model.safetensors)")
    p.add_argument("--batch-size", type=int, default=1024, help="images per forward pass (default: 1024)")
    add_device_option(p, "the encoder")
    add_wait_option(p)
    return p


def run(args) -> int:
    from ..rundir import LATENTS
    from ..stages.encode import encode_run

    m = encode_run(args.run_dir, batch_size=args.batch_size, device=args.device, wait=args.wait)
    print(f"encoded {m['n_train']} train + {m['n_test']} test images of {m['dataset']} to {m['latent_dim']}-d "
          f"{m['stored']} ({m['kind']}) in {m['seconds']:.1f} s -> {args.run_dir}/{LATENTS}")
    return 0
