"""The independent judge: a CNN classifier of a dataset's pixels, trained once and cached.

The judge is a small CNN classifier trained on the *pixels* of a dataset (never
on latent codes), so it knows nothing about the autoencoder whose samples it
grades. It is trained once per dataset and cached:

    cache_dir()/judge/<dataset-key>.safetensors   weights
    cache_dir()/judge/<dataset-key>.json          architecture, class names, test accuracy

Its labels give the fidelity of generated images (`judge.section.label_report`) and
its penultimate-layer features the space of the Frechet distance (`judge.frechet`).

    load_or_train_judge(dataset, ...) -> Judge        cached per dataset
    Judge.predict(images) / .features(images) / .test_accuracy
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

JUDGE_VERSION = 2          # bump when the architecture or training recipe changes (2: 6 epochs)
FEATURE_DIM = 128          # penultimate-layer width: the space the FD is measured in


# --------------------------------------------------------------------------- the network
def _build_net(n_classes: int, feature_dim: int = FEATURE_DIM):
    """Two conv blocks and a 128-unit hidden layer: enough for >= 0.99 on MNIST,
    >= 0.91 on Fashion-MNIST, and about 10-20 s an epoch on 2 CPU cores."""
    import torch
    from torch import nn

    class JudgeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.n_classes = n_classes
            # Strided convolutions rather than conv + max-pool at full resolution: the
            # 28x28 layers dominate CPU time, and this is ~2x faster for the same accuracy.
            self.conv = nn.Sequential(
                nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.ReLU(),               # (B, 32, 14, 14)
                nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),  # (B, 64, 7, 7)
                nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),   # (B, 64, 7, 7)
                # Any input size ends as 7x7, so user image folders of other sizes work.
                nn.AdaptiveAvgPool2d(7),
            )
            self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(64 * 7 * 7, feature_dim), nn.ReLU())
            self.dropout = nn.Dropout(0.3)
            self.head = nn.Linear(feature_dim, n_classes)

        def features(self, x):          # x (B, 1, H, W) in [0, 1] -> (B, feature_dim)
            return self.hidden(self.conv(x))

        def forward(self, x):           # -> logits (B, n_classes)
            return self.head(self.dropout(self.features(x)))

    torch.manual_seed(0)
    return JudgeNet()


# --------------------------------------------------------------------------- the judge
@dataclass
class Judge:
    net: object                  # JudgeNet, eval mode, on CPU
    class_names: list[str]
    test_accuracy: float
    key: str
    train_seconds: float | None = None
    cached: bool = False         # True when loaded from the cache, not trained now

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def _batches(self, images, fn, batch_size: int = 1000) -> np.ndarray:
        import torch

        x = _as_float_images(images)
        outs = []
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                outs.append(fn(x[i:i + batch_size]).numpy())
        if not outs:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(outs)

    def logits(self, images) -> np.ndarray:
        return self._batches(images, self.net)

    def predict(self, images) -> np.ndarray:
        """Labels (N,) int64 for images (N, H, W) uint8 or (N[, 1], H, W) floats in [0, 1]."""
        return self.logits(images).argmax(1).astype(np.int64)

    def features(self, images) -> np.ndarray:
        """Penultimate-layer features (N, 128) float64: the space of the Frechet distance."""
        return self._batches(images, self.net.features).astype(np.float64)

    def accuracy(self, images, labels) -> float:
        return float((self.predict(images) == np.asarray(labels)).mean())


def _as_float_images(images):
    """uint8 (N, H, W) or float (N, H, W) / (N, 1, H, W) in [0, 1] -> float32 tensor (N, 1, H, W)."""
    import torch

    arr = np.asarray(images)
    # torch.tensor copies: memory-mapped or read-only arrays are fine, the caller's array is never touched.
    x = torch.tensor(arr) if not arr.flags.writeable else torch.as_tensor(arr)
    if x.dtype == torch.uint8:
        x = x.float().div_(255)
    else:
        x = x.float()
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] != 1:
        raise UserError(f"the judge expects grey images (N, H, W) or (N, 1, H, W), got shape {tuple(x.shape)}")
    return x


def dataset_key(dataset) -> str:
    """A cache key naming the dataset and fingerprinting its contents, so a class
    subset, a resized folder or a changed file gets its own judge."""
    h = hashlib.sha1()
    for arr in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        if arr.ndim == 4 and arr.shape[1] == 1:
            arr = arr[:, 0]      # grey keys as before the channel axis: cached judges stay valid
        arr = np.ascontiguousarray(arr)
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    h.update(json.dumps(list(dataset.class_names)).encode())
    h.update(f"v{JUDGE_VERSION}".encode())
    slug = re.sub(r"[^A-Za-z0-9]+", "-", Path(str(dataset.name)).name).strip("-").lower() or "data"
    return f"{slug[:40]}-{dataset.n_classes}c-{h.hexdigest()[:12]}"


def train_judge(dataset, epochs: int = 6, batch_size: int = 128, lr: float = 2e-3, seed: int = 0,
                threads: int | None = None, progress: bool = True) -> Judge:
    """Train the judge on the dataset's training pixels; measure it on its test pixels.

    In-memory batches (a DataLoader would only add worker overhead at this size);
    one-cycle learning rate, so a few epochs are enough.
    """
    import torch
    from torch import nn
    from tqdm import tqdm

    from ..cores import usable_cores

    # Every core this process may use (torch's default counts the machine's, not the cgroup's).
    torch.set_num_threads(threads or usable_cores())
    if len(dataset.y_train) == 0 or len(dataset.y_test) == 0:
        raise UserError(f"dataset {dataset.name!r} has an empty train or test split; the judge needs both")
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = _build_net(dataset.n_classes)
    x = _as_float_images(dataset.x_train)                    # (N, 1, H, W)
    y = torch.as_tensor(np.asarray(dataset.y_train), dtype=torch.long)
    steps_per_epoch = (len(y) + batch_size - 1) // batch_size
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    net.train()
    bar = tqdm(total=epochs * steps_per_epoch, desc=f"judge: training on {dataset.name} pixels",
               disable=None if progress else True, leave=False)
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), batch_size):
            idx = perm[i:i + batch_size]
            xb = x[idx]
            # One-pixel random shifts: cheap augmentation that buys the last few tenths
            # of a percent on MNIST without slowing an epoch.
            dx, dy = torch.randint(-1, 2, (2,), generator=g).tolist()
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            loss = loss_fn(net(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    bar.close()
    seconds = time.perf_counter() - t0
    net.eval()
    judge = Judge(net, list(dataset.class_names), 0.0, dataset_key(dataset), round(seconds, 1))
    judge.test_accuracy = judge.accuracy(dataset.x_test, dataset.y_test)
    return judge


def _paths(key: str) -> tuple[Path, Path]:
    from ..cache import cache_dir

    folder = cache_dir() / "judge"
    return folder / f"{key}.safetensors", folder / f"{key}.json"


def save_judge(judge: Judge) -> Path:
    from safetensors.torch import save_file

    from ..rundir import atomic_save, atomic_write_json

    weights, meta = _paths(judge.key)
    state = {k: v.detach().contiguous() for k, v in judge.net.state_dict().items()}
    atomic_save(weights, lambda tmp: save_file(state, tmp))
    atomic_write_json(meta, {"version": JUDGE_VERSION, "key": judge.key, "class_names": judge.class_names,
                             "n_classes": judge.n_classes, "feature_dim": FEATURE_DIM,
                             "test_accuracy": judge.test_accuracy, "train_seconds": judge.train_seconds})
    return weights


def load_cached_judge(key: str) -> Judge | None:
    """The cached judge for this key, or None if absent or unreadable (then it is retrained)."""
    from safetensors.torch import load_file

    weights, meta_path = _paths(key)
    if not (weights.exists() and meta_path.exists()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("version") != JUDGE_VERSION:
            return None
        net = _build_net(int(meta["n_classes"]), int(meta.get("feature_dim", FEATURE_DIM)))
        net.load_state_dict(load_file(str(weights)))
    except Exception:  # a corrupt cache entry is not the user's problem: retrain it
        return None
    net.eval()
    return Judge(net, list(meta["class_names"]), float(meta["test_accuracy"]), key,
                 meta.get("train_seconds"), cached=True)


def load_or_train_judge(dataset, retrain: bool = False, progress: bool = True, **train_kwargs) -> Judge:
    """The judge for this dataset: from the cache if trained before, else trained now and cached."""
    key = dataset_key(dataset)
    if not retrain:
        judge = load_cached_judge(key)
        if judge is not None:
            return judge
    judge = train_judge(dataset, progress=progress, **train_kwargs)
    save_judge(judge)
    return judge
