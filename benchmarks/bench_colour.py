"""Colour quality: our VAE preset against Pythae's VAE, on the same images, network and epochs.

For a dataset (default cifar10; `--dataset` takes any name, npz: and folder: included;
`--synthetic N` makes a small seeded colour npz of N images so that it runs anywhere; `--emoji`
fetches the real colour images of the npm package emoji-datasource-twitter itself, see
`emoji_folder`, and uses the folder-64 preset) it prints, for our preset (default cifar10-vae)
and for Pythae's VAE where Pythae is importable:

    test MSE     per value (pixel and channel), one sampled z per test image
    bits/dim     latentatlas.models.losses.bits_per_dim (Gaussian of the maximum-likelihood
                 variance, dequantised, KL of the ELBO; the same formula for both)
    SVM probe    accuracy and balanced accuracy (the mean recall over classes: the figure that
                 counts where one class holds most images) on the test codes (posterior means) of
                 an RBF SVM fitted on the training codes, with the preset's analysis settings
    cluster acc  Hungarian-matched accuracy of a full-covariance Gaussian mixture (n_init from
                 the preset) on all codes, train and test, as `analyze` scores it
    train s      the training loop alone (ours: metrics.json train.seconds; Pythae: its TrainingPipeline)
    wall s       training plus encoding (ours in this process; Pythae's worker process, start to end)

Both sides' codes are scored by the same latentatlas estimators with the same seeds.
Pythae trains our run's own network (`--pythae-network ours`, the default: the same modules, so
the same size) or its own networks for CIFAR (`pythae`: 4x4 stride-2 convolutions 128-1024 when
the images are 3x32x32, else its default MLP), with its own loss ("mse": 0.5 * summed squared
error + KL), Adam at our learning rate and batch size, no schedule (_pythae_colour_worker.py).
Pythae: $PYTHAE_PYTHON, else this interpreter if it imports pythae (the test extras), else benchmarks/.venv-pythae
(bench_pythae.py says how to make it); without one the Pythae row says so.

    python benchmarks/bench_colour.py [--dataset cifar10] [--synthetic N] [--emoji] [--epochs E]
        [--max-train-images N] [--preset cifar10-vae] [--threads 2] [--pythae-network ours] [--no-pythae]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
EMOJI_PACKAGE = "emoji-datasource-twitter"
EMOJI_MIN_IMAGES = 20          # categories with fewer images are left out (Component: 5 skin-tone swatches)


def emoji_folder(root: Path) -> Path:
    """root/emoji/<category>/<file>.png: the 64x64 PNGs of the npm package emoji-datasource-twitter
    (img/twitter/64/, skin-tone variants included), one folder per category of its emoji.json
    (names with spaces and '&'), categories of fewer than EMOJI_MIN_IMAGES images left out. The
    package is fetched once with `npm pack` into root and unpacked there."""
    folder = root / "emoji"
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    root.mkdir(parents=True, exist_ok=True)
    if not list(root.glob(f"{EMOJI_PACKAGE}-*.tgz")):
        if shutil.which("npm") is None:
            raise SystemExit(f"--emoji needs npm to fetch the package {EMOJI_PACKAGE}")
        subprocess.run(["npm", "pack", EMOJI_PACKAGE, "--silent"], cwd=root, check=True, capture_output=True)
    with tarfile.open(sorted(root.glob(f"{EMOJI_PACKAGE}-*.tgz"))[-1]) as tar:
        tar.extractall(root / "npm", filter="data")
    pkg = root / "npm" / "package"
    by_category: dict[str, list[str]] = {}
    for e in json.loads((pkg / "emoji.json").read_text()):
        images = [e["image"]] + [v["image"] for v in (e.get("skin_variations") or {}).values()]
        by_category.setdefault(e["category"], []).extend(images)
    tmp = root / "emoji.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    for category, images in by_category.items():
        found = [im for im in images if (pkg / "img" / "twitter" / "64" / im).is_file()]
        if len(found) < EMOJI_MIN_IMAGES:
            continue
        (tmp / category).mkdir(parents=True)
        for im in found:
            shutil.copyfile(pkg / "img" / "twitter" / "64" / im, tmp / category / im)
    tmp.rename(folder)
    return folder


def synthetic_npz(path: Path, n: int, size: int = 32, classes: int = 10, seed: int = 0) -> Path:
    """n seeded 3 x size x size images (a fifth of them the test split): each class a colour and a
    stripe direction, a random phase per image, pixel noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = np.pi * y / classes
    along = np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy
    s = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * along + rng.uniform(0, 2 * np.pi, n)[:, None, None])
    colour = rng.uniform(40, 255, (classes, 3))[y]                                 # (N, 3)
    img = s[:, None] * colour[:, :, None, None] + (1 - s[:, None]) * 30.0
    img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)     # (N, 3, H, W)
    k = n - n // 5
    np.savez(path, x=img[:k], y=y[:k], x_test=img[k:], y_test=y[k:])
    return path


def pythae_python() -> Path | None:
    if os.environ.get("PYTHAE_PYTHON"):
        return Path(os.environ["PYTHAE_PYTHON"])
    if importlib.util.find_spec("pythae") is not None:     # the test environment has it
        return Path(sys.executable)
    python = HERE / ".venv-pythae" / "bin" / "python"
    return python if python.exists() else None


def score_codes(train_codes, y_train, test_codes, y_test, names, analysis: dict) -> dict:
    """SVM probe accuracy and Gaussian-mixture cluster accuracy, as `analyze` computes them."""
    from latentatlas.estimators.cluster import make_clusterer, score_clustering
    from latentatlas.estimators.probe import evaluate_probe, make_probe

    seed = analysis.get("seed", 0)
    probe = make_probe("svm", svm_solver=analysis.get("svm_solver", "auto"), random_state=seed)
    probe.fit(train_codes, y_train)
    scored = evaluate_probe(probe, test_codes, y_test, names)
    codes, labels = np.concatenate([train_codes, test_codes]), np.concatenate([y_train, y_test])
    gmm = make_clusterer("gmm", n_clusters=len(names), random_state=seed,
                         covariance_type=analysis.get("covariance_type", "full"), n_init=analysis.get("n_init", 5))
    cluster = score_clustering(labels, gmm.fit_predict(codes), names)["accuracy"]
    return {"svm": scored["accuracy"], "svm_balanced": scored["balanced_accuracy"], "cluster": cluster}


def ours(args, tmp: Path, dataset: str) -> tuple[dict, object]:
    import latentatlas as la

    settings = {"dataset": dataset, "threads": args.threads}
    if args.epochs:
        settings["epochs"] = args.epochs
    if args.max_train_images:
        settings["max_train_images"] = args.max_train_images
    t0 = time.perf_counter()
    run = la.train(out=tmp / "ours", preset=args.preset, **settings)
    run.encode()
    wall = time.perf_counter() - t0
    train = run.metrics["train"]
    z = np.load(tmp / "ours" / "latents.npz")
    scores = score_codes(z["train_mean"], z["train_labels"], z["test_mean"], z["test_labels"],
                         [str(c) for c in z["class_names"]], run.config.get("analysis") or {})
    row = {"mse": train["test_mse"], "bpd": train.get("test_bpd"), **scores, "wall": wall,
           "train_s": train.get("seconds"),
           "what": f"latentatlas {args.preset} ({train['model']}, latent {train['latent_dim']}, "
                   f"{train['n_parameters']:,} weights, {train['epochs']} epochs)"}
    return row, run


def theirs(args, tmp: Path, run) -> dict:
    """Pythae's VAE on the very images our run trained and was tested on."""
    from latentatlas.data import load_dataset
    from latentatlas.models.losses import bits_per_dim

    python = pythae_python()
    if python is None or args.no_pythae:
        why = "--no-pythae" if args.no_pythae else "not importable: no $PYTHAE_PYTHON or benchmarks/.venv-pythae"
        return {"what": f"Pythae VAE: skipped ({why})"}
    cfg = run.config
    data, train, model = cfg["data"], cfg["train"], cfg["model"]
    ds = load_dataset(**data)
    x_fit = ds.x_train                                   # what it trains on: the subset our run trained on
    if train.get("max_train_images") and train["max_train_images"] < len(x_fit):
        x_fit = _subset_like_ours(ds, train)
    images = tmp / "images.npz"
    np.savez(images, x_fit=x_fit, x_train=ds.x_train, x_test=ds.x_test)
    t0 = time.perf_counter()
    spec = [(tmp / "ours" / "model.json").read_text()] if args.pythae_network == "ours" else []
    out = subprocess.run([str(python), str(HERE / "_pythae_colour_worker.py"), str(images), str(tmp / "pythae.npz"),
                          str(model["latent_dim"]), str(train["epochs"]), str(train["batch_size"]), str(train["lr"]),
                          str(args.threads), *spec], capture_output=True, text=True)
    if out.returncode:
        return {"what": f"Pythae VAE: failed ({out.stderr.strip().splitlines()[-1][:200]})"}
    got = json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])
    wall = time.perf_counter() - t0
    codes = np.load(tmp / "pythae.npz")
    z = np.load(tmp / "ours" / "latents.npz")
    scores = score_codes(codes["train_mean"], z["train_labels"], codes["test_mean"],
                         z["test_labels"], [str(c) for c in z["class_names"]], cfg.get("analysis") or {})
    dims = int(np.prod(ds.x_test.shape[1:]))
    return {"mse": got["mse"], "bpd": bits_per_dim(got["mse"], got["kl"], dims), **scores, "wall": wall,
            "train_s": got["seconds"],
            "what": f"Pythae VAE ({got['network']}, latent {model['latent_dim']}, {got['n_parameters']:,} weights, "
                    f"{train['epochs']} epochs)"}


def _subset_like_ours(ds, train: dict):
    """The training images of our run: training/loop.py images_on_device's seeded subset."""
    import torch

    from latentatlas.training.loop import seed_of

    n_all, n = len(ds.x_train), int(train["max_train_images"])
    keep = torch.randperm(n_all, generator=torch.Generator().manual_seed(seed_of(train["seed"], 7)))[:n]
    return ds.x_train[keep.sort().values.numpy()]


def show(rows: list[dict]) -> None:
    print()
    for i, r in enumerate(rows):
        print(f"[{i + 1}] {r['what']}")
    print(f"\n{'':4s} {'test MSE':>9s} {'bits/dim':>9s} {'SVM acc':>8s} {'SVM bal':>8s} {'cluster':>8s} "
          f"{'train s':>8s} {'wall s':>8s}")
    for i, r in enumerate(rows):
        if "mse" not in r:
            continue
        bpd = f"{r['bpd']:9.4f}" if r.get("bpd") is not None else f"{'-':>9s}"
        train_s = f"{r['train_s']:8.1f}" if r.get("train_s") else f"{'-':>8s}"
        print(f"[{i + 1}]  {r['mse']:9.5f} {bpd} {r['svm']:8.4f} {r['svm_balanced']:8.4f} {r['cluster']:8.4f} "
              f"{train_s} {r['wall']:8.1f}")
    if len(rows) == 2 and all(r.get("train_s") for r in rows):
        print(f"\ntraining speed-up, Pythae's seconds / ours: {rows[1]['train_s'] / rows[0]['train_s']:.2f}x "
              f"(wall: {rows[1]['wall'] / rows[0]['wall']:.2f}x)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="cifar10", help="any dataset name, npz:PATH or folder:PATH")
    p.add_argument("--synthetic", type=int, default=0, metavar="N",
                   help="use a seeded synthetic colour npz of N 32x32 images instead of --dataset")
    p.add_argument("--emoji", action="store_true",
                   help=f"the npm package {EMOJI_PACKAGE}'s 64x64 emoji, one folder per category (fetched with "
                        "npm into --emoji-dir), with the folder-64 preset unless --preset is given")
    p.add_argument("--emoji-dir", type=Path, default=HERE / "results" / "emoji")
    p.add_argument("--preset", default=None, help="default: cifar10-vae (folder-64 with --emoji)")
    p.add_argument("--pythae-network", choices=["ours", "pythae"], default="ours",
                   help="ours: Pythae trains our run's very network; pythae: Pythae's own CIFAR convnets or MLP")
    p.add_argument("--epochs", type=int, default=0, help="0: the preset's")
    p.add_argument("--max-train-images", type=int, default=0, help="0: all")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-pythae", action="store_true")
    args = p.parse_args(argv)
    args.preset = args.preset or ("folder-64" if args.emoji else "cifar10-vae")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dataset = f"npz:{synthetic_npz(tmp / 'synthetic.npz', args.synthetic)}" if args.synthetic else args.dataset
        if args.emoji:
            dataset = f"folder:{emoji_folder(args.emoji_dir)}"
        print(f"dataset {dataset if not args.synthetic else f'synthetic colour npz, {args.synthetic} images'}; "
              f"preset {args.preset}; {args.threads} threads", flush=True)
        mine, run = ours(args, tmp, dataset)
        rows = [mine, theirs(args, tmp, run)]
    show(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
