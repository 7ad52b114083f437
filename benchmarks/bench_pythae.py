"""Training speed: latentatlas's loop against Pythae's TrainingPipeline, same network.

Both train latentatlas's default network (built from the same model.json, so the
very same modules) on the same number of MNIST training images, for one epoch,
with the same batch size, optimizer (Adam, constant learning rate) and CPU thread
count. Runs alternate (ours, Pythae, ours, Pythae, ...) in one sitting so that the
noise of a shared machine hits both alike; the figure is the median of the
per-pair ratios of training images per second. Only each loop's training pass is
timed (our history's train_seconds; Pythae's BaseTrainer.train_step).

Pythae comes from $PYTHAE_PYTHON, else this interpreter when it imports pythae (the test
extras install it), else a benchmark-only virtual environment, created on first use:

    python3 -m venv benchmarks/.venv-pythae
    benchmarks/.venv-pythae/bin/pip install torch==2.13.0 pythae

    python benchmarks/bench_pythae.py [--data-dir DIR] [--images 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHAE_VENV = HERE / ".venv-pythae"

OURS = r"""
import json, sys
from latentatlas.settings import DataConfig, ModelConfig, TrainConfig
from latentatlas.stages.train import train_run
import torch
out, data_dir, model, latent, batch, lr, threads, n, amp = sys.argv[1:]
# On CUDA the step is compiled (CUDA graphs) during the first epoch: time the second one.
epochs = 2 if torch.cuda.is_available() else 1
train_run(out, DataConfig(name="mnist", data_dir=data_dir or None),
          ModelConfig(name=model, latent_dim=int(latent)),
          TrainConfig(epochs=epochs, batch_size=int(batch), lr=float(lr), optimizer="adam", schedule="none",
                      threads=int(threads), max_train_images=int(n), progress_every=0,
                      amp={"auto": "auto", "bf16": True, "float32": False}[amp]))
row = [json.loads(l) for l in open(out + "/history.jsonl")][-1]
precision = json.load(open(out + "/metrics.json"))["train"]["precision"]
print(json.dumps({"seconds": row["train_seconds"], "images_per_s": row["images_per_s"], "precision": precision}))
"""


def ensure_pythae() -> Path:
    # $PYTHAE_PYTHON: an interpreter that already imports pythae (benchmarks/gpu_check.sh
    # installs its wheel beside the checkout; nothing can be downloaded there)
    if os.environ.get("PYTHAE_PYTHON"):
        return Path(os.environ["PYTHAE_PYTHON"])
    if importlib.util.find_spec("pythae") is not None:     # the test environment has it
        return Path(sys.executable)
    python = PYTHAE_VENV / "bin" / "python"
    if not python.exists():
        print("creating the benchmark-only Pythae environment (once)...", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", str(PYTHAE_VENV)])
        subprocess.check_call([str(python), "-m", "pip", "install", "-q", "torch==2.13.0"])
        subprocess.check_call([str(python), "-m", "pip", "install", "-q", "pythae"])
    return python


def last_json(stdout: str) -> dict:
    return json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("LATENTATLAS_DATA"))
    ap.add_argument("--model", default="vae", choices=["vae", "ae"])
    ap.add_argument("--latent-dim", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=20000, help="training images per epoch")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--precision", choices=["auto", "float32", "bf16"], default="auto",
                    help="our loop's precision: auto is latentatlas's default (bfloat16 autocast where the "
                         "hardware multiplies bfloat16, e.g. Intel AMX; float32 elsewhere). Pythae trains in "
                         "float32, its only CPU mode")
    args = ap.parse_args()

    import numpy as np

    from latentatlas.settings import ModelConfig
    from latentatlas.data import load_dataset
    from latentatlas.models import model_from_config

    python = ensure_pythae()
    ds = load_dataset("mnist", data_dir=args.data_dir)
    spec = model_from_config(ModelConfig(name=args.model, latent_dim=args.latent_dim)).spec()
    print(f"network: {spec['name']} {json.dumps(spec['config'])}")
    print(f"{args.images} MNIST training images, batch {args.batch_size}, Adam lr {args.lr}, "
          f"{args.threads} threads, {args.repeats} alternating pairs"
          f"; our precision: {args.precision}\n")

    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        images = Path(tmp) / "x.npy"
        np.save(images, ds.x_train[: args.images])
        for i in range(args.repeats):
            out = subprocess.run([sys.executable, "-c", OURS, f"{tmp}/ours{i}", args.data_dir or "", args.model,
                                  str(args.latent_dim), str(args.batch_size), str(args.lr), str(args.threads),
                                  str(args.images), args.precision], capture_output=True, text=True)
            if out.returncode:
                print(out.stderr[-2000:])
                return 1
            mine = last_json(out.stdout)
            ours.append(mine["images_per_s"])
            out = subprocess.run([str(python), str(HERE / "_pythae_worker.py"), str(images), json.dumps(spec),
                                  str(args.batch_size), str(args.lr), str(args.threads)],
                                 capture_output=True, text=True)
            if out.returncode:
                print(out.stderr[-2000:])
                return 1
            theirs.append(last_json(out.stdout)["images_per_s"])
            print(f"pair {i + 1}: latentatlas {ours[-1]:8.0f} images/s ({mine['precision']})   "
                  f"Pythae {theirs[-1]:8.0f} images/s (float32)   ratio {ours[-1] / theirs[-1]:.2f}x", flush=True)

    ratios = [a / b for a, b in zip(ours, theirs)]
    print(f"\nmedian latentatlas {statistics.median(ours):.0f} images/s, "
          f"median Pythae {statistics.median(theirs):.0f} images/s")
    print(f"speed-up (median of per-pair ratios): {statistics.median(ratios):.2f}x  (target >= 1.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
