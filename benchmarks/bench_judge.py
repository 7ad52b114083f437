"""The judge on a folder: how many epochs its budget buys beside the VAE, and what it is worth.

On the user's own data the judge trains within BUDGET_SHARE (a quarter) of the VAE's training
time (stages/judge.py). On a shared machine wall times swing with the load, but the ratio of two
steps timed in turn in one process does not: this prints the seconds of one training step of
the preset's VAE and of the judge (each at its batch size on the dataset's images, the judge's
with its augmentation, fp32, alternating `--steps` times each, medians), the epochs the budget buys at that ratio with the preset's VAE
epochs, then trains the judge for those epochs (`--epochs` overrides) and prints its test
accuracy, balanced accuracy and the majority-class baselines.

    python benchmarks/bench_judge.py --dataset folder:PATH [--preset folder-64] [--steps 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def step_seconds(make_step, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        t0 = time.perf_counter()
        make_step()
        out.append(time.perf_counter() - t0)
    return out


def main(argv=None) -> int:
    import torch

    from latentatlas.data import load_dataset
    from latentatlas.estimators.augment import augment
    from latentatlas.estimators.classifier import (DEFAULTS, POOLED_RECIPE, _recipe, build_net, class_weights,
                                                   pooled_u8, train_judge)
    from latentatlas.models import model_from_config
    from latentatlas.settings import load_preset
    from latentatlas.stages.judge import BUDGET_SHARE

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--preset", default="folder-64")
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--epochs", type=int, default=0, help="0: the epochs the budget buys")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_preset(args.preset)
    ds = load_dataset(args.dataset, image_size=cfg.data.image_size)
    recipe = _recipe(ds)
    _, batch, lr = DEFAULTS[recipe]
    vae = model_from_config(cfg.model, ds.x_train.shape[-2:], ds.channels)
    judge = build_net(ds.n_classes, recipe=recipe, in_channels=ds.channels)
    xv = torch.as_tensor(ds.x_train[:cfg.train.batch_size]).float().div_(255)     # the VAE's batch
    xb = torch.as_tensor(ds.x_train[:batch])                                      # the judge's, as it trains:
    xb, pad = (pooled_u8(xb), 2) if recipe == POOLED_RECIPE else (xb, 4)           # pooled once, then crops
    g = torch.Generator().manual_seed(0)
    yb = torch.as_tensor(ds.y_train[:batch])
    vae_opt = torch.optim.Adam(vae.parameters(), lr=cfg.train.lr)
    judge_opt = torch.optim.AdamW(judge.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss(weight=class_weights(ds.y_train, ds.n_classes), label_smoothing=0.1)

    def vae_step():
        loss = vae.loss_function(xv, vae(xv))["loss"]
        vae_opt.zero_grad()
        loss.backward()
        vae_opt.step()

    def judge_step():
        loss = loss_fn(judge(augment(xb, g, True, pad)), yb)
        judge_opt.zero_grad()
        loss.backward()
        judge_opt.step()

    vae.train(), judge.train()
    vae_s, judge_s = [], []
    for _ in range(args.steps):           # in turn, so that the load of a shared machine hits both alike
        vae_s += step_seconds(vae_step, 1)
        judge_s += step_seconds(judge_step, 1)
    v, j = statistics.median(vae_s[1:]), statistics.median(judge_s[1:])
    vae_epoch = v * len(ds.y_train) / cfg.train.batch_size          # both see every training image an epoch
    judge_epoch = j * len(ds.y_train) / batch
    fit = max(1, int(BUDGET_SHARE * cfg.train.epochs * vae_epoch / judge_epoch))
    print(f"{ds.name}: {len(ds.y_train)} training images {ds.x_train.shape[1:]}, {ds.n_classes} classes; "
          f"judge recipe {recipe}")
    print(f"one training step: VAE ({args.preset}, batch {cfg.train.batch_size}) {v * 1000:.1f} ms, judge "
          f"(batch {batch}) {j * 1000:.1f} ms; an epoch's ratio {judge_epoch / vae_epoch:.3f} (medians of {args.steps - 1})")
    print(f"budget {BUDGET_SHARE:.0%} of {cfg.train.epochs} VAE epochs buys {fit} judge epochs")
    epochs = args.epochs or fit
    trained = train_judge(ds, epochs=epochs, threads=args.threads)
    from sklearn.metrics import balanced_accuracy_score

    pred = trained.predict(ds.x_test)
    counts = np.bincount(ds.y_test, minlength=ds.n_classes)
    print(f"judge after {trained.epochs} epochs ({trained.train_seconds:.1f} s): test accuracy "
          f"{trained.test_accuracy:.3f}, balanced accuracy {balanced_accuracy_score(ds.y_test, pred):.3f} "
          f"(majority class {counts.max() / counts.sum():.3f}, chance balanced {1 / ds.n_classes:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
