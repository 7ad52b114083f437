"""The independent judge: a CNN classifier of a dataset's pixels.

The judge is a small CNN classifier trained on the *pixels* of a dataset (never
on latent codes), so it knows nothing about the autoencoder whose samples it
grades. It takes arrays and knows nothing of files: stages/judge_store.py trains it
once per dataset and caches it (cache_dir()/judge/<dataset-key>.safetensors and .json).

Its labels give the fidelity of generated images (`stages.judge.label_report`) and
its penultimate-layer features the space of the Frechet distance (`estimators.frechet`).

The recipe is chosen by the data (`recipe_for`) and recorded in the json:
    grey     one channel, any size: the MNIST/Fashion-MNIST judge (unchanged since v2)
    colour   three channels, at most 32 px (CIFAR-10, SVHN): a quarter-width ResNet-9 with BatchNorm,
             random crops and (unless the classes are digits) horizontal flips, label smoothing,
             one-cycle SGD
    pooled   three channels, larger than 32 px (a 64x64 folder): average-pooled to 32 px, a small
             strided CNN, class-balanced loss, one-cycle AdamW: tens of epochs within the budget
             a folder's judge gets, where the ResNet got one

    train_judge(dataset, ...) -> Judge               (stages.judge_store.load_or_train_judge: cached)
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
from .augment import augment as _augment, digit_classes as _digit_classes, shifted as _shifted
from .judge_nets import FEATURE_DIM, POOLED_SIZE, build_colour_net, build_grey_net, build_pooled_net

JUDGE_VERSION = 2          # bump when the architecture or training recipe changes (2: 6 epochs)
LOSS_LOOK_EVERY = 50       # training steps between looks at the loss for the progress bar
TIMED_STEPS = 10           # with a time budget: steps timed before the epochs are fitted to it

# What each recipe is, as the judge's json and metrics.json quote it. The colour recipe's
# name carries its own version: bump it when that recipe changes (the grey key stays as it was).
RECIPES = {
    "grey": {"architecture": "3 conv layers + 128-unit hidden layer",
             "features": "the judge's penultimate layer (128 ReLU units)",
             "training": "AdamW 2e-3, one-cycle, 6 epochs, batch 128, one-pixel random shifts"},
    "colour-v1": {"architecture": "ResNet-9 at quarter width (16-32-64-128, BatchNorm, 2 residual blocks)",
                  "features": "the judge's global max-pooled last block (128 ReLU channels)",
                  "training": "SGD Nesterov 0.1 (momentum 0.9, weight decay 5e-4), one-cycle, 20 epochs, "
                              "batch 128, label smoothing 0.1, random 4-pixel-padded crops, horizontal flips "
                              "unless the classes are digits"},
    "colour-pooled-v1": {"architecture": f"average-pooled to {POOLED_SIZE} px, 5 strided 3x3 conv layers "
                                         "(32-64-64-128-128, BatchNorm), global average pool",
                         "features": "the judge's global average-pooled last layer (128 ReLU channels)",
                         "training": "AdamW 3e-3 (weight decay 5e-4), one-cycle, 20 epochs, batch 64, "
                                     "class-balanced cross-entropy (weights inverse to the class counts), "
                                     "label smoothing 0.1, the training images pooled once, random crops "
                                     "of them padded by 4 pixels per 64, horizontal flips unless the "
                                     "classes are digits; BatchNorm statistics recomputed on the training "
                                     "images at the end"},
}
COLOUR_RECIPE = "colour-v1"
POOLED_RECIPE = "colour-pooled-v1"
# per recipe: (epochs, batch size, learning rate) unless train_judge is given them
DEFAULTS = {"grey": (6, 128, 2e-3), COLOUR_RECIPE: (20, 128, 0.1), POOLED_RECIPE: (20, 64, 3e-3)}


# --------------------------------------------------------------------------- the network
def recipe_for(channels: int, size: int | None = None) -> str:
    """The recipe for data of this many channels and this image side: grey images keep the judge
    (and the cache keys) of every run so far; colour images of at most POOLED_SIZE px (CIFAR-10,
    SVHN, mnist-color) the ResNet recipe; larger colour images the pooled recipe."""
    if int(channels) == 1:
        return "grey"
    return POOLED_RECIPE if size is not None and int(size) > POOLED_SIZE else COLOUR_RECIPE


def build_net(n_classes: int, feature_dim: int = FEATURE_DIM, recipe: str = "grey", in_channels: int = 1):
    """The recipe's network, seeded: the same initial weights every time."""
    if recipe == "grey":
        return build_grey_net(n_classes, feature_dim)
    if recipe == COLOUR_RECIPE:
        return build_colour_net(n_classes, in_channels, feature_dim)
    if recipe == POOLED_RECIPE:
        return build_pooled_net(n_classes, in_channels, feature_dim)
    raise ValueError(f"unknown judge recipe {recipe!r}")


# --------------------------------------------------------------------------- the judge
@dataclass
class Judge:
    net: object                  # JudgeNet, eval mode, on judge_device()
    class_names: list[str]
    test_accuracy: float
    key: str
    train_seconds: float | None = None
    cached: bool = False         # True when loaded from the cache, not trained now
    recipe: str = "grey"         # a key of RECIPES
    in_channels: int = 1
    epochs: int | None = None    # trained for (fewer than the recipe's when a time budget cut them)
    budget_seconds: float | None = None     # the time budget it was trained within, if any

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def architecture(self) -> str:
        return RECIPES[self.recipe]["architecture"]

    @property
    def feature_description(self) -> str:
        return RECIPES[self.recipe]["features"]

    def _batches(self, images, fn, batch_size: int = 1000) -> np.ndarray:
        import torch

        x = _as_float_images(images, self.in_channels)
        device = next(self.net.parameters()).device          # the GPU when there is one
        outs = []
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                outs.append(fn(x[i:i + batch_size].to(device)).float().cpu().numpy())
        if not outs:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(outs)

    def logits(self, images) -> np.ndarray:
        return self._batches(images, self.net)

    def predict(self, images) -> np.ndarray:
        """Labels (N,) int64 for images (N, C, H, W) (grey also (N, H, W)), uint8 or floats in [0, 1]."""
        return self.logits(images).argmax(1).astype(np.int64)

    def features(self, images) -> np.ndarray:
        """Penultimate-layer features (N, 128) float64: the space of the Frechet distance."""
        return self._batches(images, self.net.features).astype(np.float64)

    def accuracy(self, images, labels) -> float:
        return float((self.predict(images) == np.asarray(labels)).mean())


def _as_float_images(images, channels: int = 1):
    """uint8 or float in [0, 1], (N, C, H, W) (grey also (N, H, W)) -> float32 tensor (N, C, H, W)."""
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
    if x.ndim != 4 or x.shape[1] != channels:
        want = "grey images (N, H, W) or (N, 1, H, W)" if channels == 1 else f"images (N, {channels}, H, W)"
        raise UserError(f"this dataset's judge expects {want}, got shape {tuple(x.shape)}")
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
    recipe = _recipe(dataset)
    if recipe != "grey":          # grey keys stay exactly as they were: cached judges stay valid
        h.update(recipe.encode())
    slug = re.sub(r"[^A-Za-z0-9]+", "-", Path(str(dataset.name)).name).strip("-").lower() or "data"
    return f"{slug[:40]}-{dataset.n_classes}c-{h.hexdigest()[:12]}"


def _channels(dataset) -> int:
    x = dataset.x_train
    return int(x.shape[1]) if x.ndim == 4 else 1


def _recipe(dataset) -> str:
    """recipe_for the dataset's channels and its images' longer side."""
    return recipe_for(_channels(dataset), max(dataset.x_train.shape[-2:]))


def judge_device(device=None):
    """Where the judge trains and labels: `device` if given, else the CUDA GPU when there is one,
    else the CPU (the rule every stage uses: runtime.choose_device)."""
    from ..runtime import choose_device

    return choose_device(device)


def train_judge(dataset, epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
                seed: int = 0, threads: int | None = None, progress: bool = True, device=None,
                max_seconds: float | None = None) -> Judge:
    """Train the judge on the dataset's training pixels with the recipe its data calls for
    (`recipe_for`); measure it on its test pixels. epochs / batch_size / lr: the recipe's
    (DEFAULTS) unless given.

    In-memory batches (a DataLoader would only add worker overhead at this size), on
    `judge_device(device)`; one-cycle learning rate, so a few epochs are enough. The shuffles
    and augmentations are drawn on the CPU from the seed, so the CPU's judge is the same on
    every machine and a GPU's sees the same batches. max_seconds: a time budget; the epochs are
    cut (to at least one) so that training fits it, as measured on its first steps (`_fit`).
    """
    from ..runtime import torch_threads_kept

    with torch_threads_kept():
        judge = _train_judge(dataset, epochs, batch_size, lr, seed, threads, progress, device, max_seconds)
    judge.budget_seconds = max_seconds
    return judge


def _train_judge(dataset, epochs, batch_size, lr, seed, threads, progress, device, max_seconds) -> Judge:
    import torch

    from ..runtime import usable_cores

    # Every core this process may use (torch's default counts the machine's, not the cgroup's).
    torch.set_num_threads(threads or usable_cores())
    if len(dataset.y_train) == 0 or len(dataset.y_test) == 0:
        raise UserError(f"dataset {dataset.name!r} has an empty train or test split; the judge needs both")
    dev = judge_device(device)
    if dev.type == "cuda":          # fixed batch shapes: let cuDNN pick its fastest convolutions once
        torch.backends.cudnn.benchmark = True
    recipe = _recipe(dataset)
    default_epochs, default_batch, default_lr = DEFAULTS[recipe]
    epochs, batch_size = default_epochs if epochs is None else epochs, batch_size or default_batch
    lr = default_lr if lr is None else lr
    if recipe == "grey":
        return _train_grey(dataset, epochs, batch_size, lr, seed, progress, dev, max_seconds)
    return _train_colour(dataset, recipe, epochs, batch_size, lr, seed, progress, dev, max_seconds)


def _on_device(t, device):
    """`t` on `device`, or left on the CPU (batches then travel one by one) when the training
    images do not fit in the GPU's memory beside the network."""
    import torch

    if t.device == device:
        return t
    try:
        return t.to(device)
    except torch.OutOfMemoryError:
        torch.cuda.empty_cache()
        return t.pin_memory() if device.type == "cuda" else t


def _train_grey(dataset, epochs: int, batch_size: int, lr: float, seed: int, progress: bool, device,
                max_seconds=None) -> Judge:
    """The grey recipe, exactly as every grey judge so far was trained (AdamW, one-pixel shifts)."""
    import torch
    from torch import nn

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = build_net(dataset.n_classes).to(device)            # initialised on the CPU: seeded alike
    x = _on_device(_as_float_images(dataset.x_train), device)                    # (N, 1, H, W)
    y = torch.as_tensor(np.asarray(dataset.y_train), dtype=torch.long).to(device)
    steps_per_epoch = (len(y) + batch_size - 1) // batch_size
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    seconds, epochs = _fit(net, x, y, opt, _one_cycle(opt, lr, steps_per_epoch), nn.CrossEntropyLoss(), _shifted,
                           epochs, batch_size, g, f"judge: training on {dataset.name} pixels", progress, max_seconds)
    judge = Judge(net, list(dataset.class_names), 0.0, dataset_key(dataset), round(seconds, 1), epochs=epochs)
    judge.test_accuracy = judge.accuracy(dataset.x_test, dataset.y_test)
    return judge


def _one_cycle(opt, lr: float, steps_per_epoch: int):
    """epochs -> the one-cycle schedule over that many epochs (remade when a budget cuts them)."""
    import torch

    return lambda epochs: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs,
                                                              steps_per_epoch=steps_per_epoch)


def _within_budget(make_sched, sched, epochs: int, done: int, per_step: float, steps_per_epoch: int,
                   max_seconds: float, started: int = 1):
    """(epochs, schedule): the epochs that fit `max_seconds` at `per_step` seconds a step (at least
    the `started` ones), with a one-cycle schedule over them resumed at step `done` when they are fewer."""
    import warnings

    fit = max(started, min(epochs, int(max_seconds / (per_step * steps_per_epoch))))
    if fit == epochs or fit * steps_per_epoch <= done:       # unchanged, or the budget ends training now
        return fit, sched
    sched = make_sched(fit)
    with warnings.catch_warnings():          # catching up the new schedule, no optimiser step between
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(done):
            sched.step()
    return fit, sched


def _fit(net, x, y, opt, make_sched, loss_fn, batch_of, epochs: int, batch_size: int, g, desc: str,
         progress: bool, max_seconds: float | None = None) -> tuple[float, int]:
    """Both recipes' loop: `epochs` seeded shuffles, `batch_of(x, idx, g)` -> the float batch (the
    recipe's augmentation), one optimiser and schedule step per batch; (the seconds it took, the
    epochs it trained). With a time budget (max_seconds) the first TIMED_STEPS steps are timed and
    the epochs cut to fit it, and checked again at each epoch's end (`_within_budget`)."""
    import torch

    from ..runtime.progress import progress_bar

    steps_per_epoch = (len(y) + batch_size - 1) // batch_size
    device = next(net.parameters()).device
    sched, epoch, done = make_sched(epochs), 0, 0
    t0 = time.perf_counter()
    net.train()
    bar = progress_bar(epochs * steps_per_epoch, desc, show=progress, unit="step")
    while epoch < epochs:
        epoch += 1
        perm = torch.randperm(len(y), generator=g)        # on the CPU, from the seed
        for step, i in enumerate(range(0, len(y), batch_size)):
            idx = perm[i:i + batch_size].to(x.device, non_blocking=True)
            xb = batch_of(x, idx, g).to(device, non_blocking=True)
            loss = loss_fn(net(xb), y[idx.to(y.device)])          # y is where x is, or on the GPU
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            done += 1
            if step % LOSS_LOOK_EVERY == 0 or step == steps_per_epoch - 1:   # reading it waits for a GPU
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            # with a budget: fitted on the first steps, then again at each epoch's end (a shared
            # machine's speed changes), so training ends within about a step of the budget's epoch
            if max_seconds and (done == min(TIMED_STEPS, steps_per_epoch) or step == steps_per_epoch - 1):
                loss.item()                                               # the steps so far, finished
                per_step = (time.perf_counter() - t0) / done
                epochs, sched = _within_budget(make_sched, sched, epochs, done, per_step, steps_per_epoch,
                                               max_seconds, epoch)
                bar.total = epochs * steps_per_epoch
    bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    net.eval()
    return seconds, epochs


def _train_colour(dataset, recipe: str, epochs: int, batch_size: int, lr: float, seed: int,
                  progress: bool, device, max_seconds=None) -> Judge:
    """The colour recipes. COLOUR_RECIPE: the standard fast CIFAR-10 training of a ResNet (SGD with
    Nesterov momentum, one-cycle, label smoothing, crops and flips), which reaches its accuracy in
    tens of epochs rather than hundreds. POOLED_RECIPE: the small pooled network with one-cycle
    AdamW (which needs no warm-up of its momentum to learn in a few epochs) and a cross-entropy
    weighted inverse to the class counts, so that a folder whose largest class holds most images
    is not learned as that class alone. The images stay uint8 in memory (150 MB for CIFAR-10's
    50,000 rather than 600 MB as floats)."""
    import torch
    from torch import nn

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    channels = _channels(dataset)
    net = build_net(dataset.n_classes, recipe=recipe, in_channels=channels).to(device)
    x, pad = torch.as_tensor(np.array(dataset.x_train, dtype=np.uint8)), 4                # (N, C, H, W) uint8
    if recipe == POOLED_RECIPE:           # pooled once here, not in every step; crops padded in proportion
        x, pad = pooled_u8(x), max(1, round(4 * POOLED_SIZE / max(x.shape[-2:])))
    x = _on_device(x, device)
    y = torch.as_tensor(np.asarray(dataset.y_train), dtype=torch.long).to(device)
    flip = not _digit_classes(dataset.class_names)
    steps_per_epoch = (len(y) + batch_size - 1) // batch_size
    if recipe == POOLED_RECIPE:
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=5e-4)
        loss_fn = nn.CrossEntropyLoss(weight=class_weights(dataset.y_train, dataset.n_classes).to(device),
                                      label_smoothing=0.1)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    seconds, epochs = _fit(net, x, y, opt, _one_cycle(opt, lr, steps_per_epoch), loss_fn,
                           lambda xs, idx, gen: _augment(xs[idx], gen, flip, pad), epochs, batch_size, g,
                           f"judge: training on {dataset.name} pixels ({recipe} recipe)", progress, max_seconds)
    if recipe == POOLED_RECIPE:
        _recompute_batchnorm(net, x)
    judge = Judge(net, list(dataset.class_names), 0.0, dataset_key(dataset), round(seconds, 1),
                  recipe=recipe, in_channels=channels, epochs=epochs)
    judge.test_accuracy = judge.accuracy(dataset.x_test, dataset.y_test)
    return judge


def _recompute_batchnorm(net, x_u8, batch_size: int = 256) -> None:
    """BatchNorm's running statistics, recomputed as plain averages over the training images
    (torch.optim.swa_utils.update_bn). Their running averages (momentum 0.1) still lean on their
    initial values after the few dozen steps a time budget may leave, and a judge that normalises
    with them calls every image one class; one pass without gradients costs a fraction of an epoch."""
    import torch
    from torch.optim.swa_utils import update_bn

    device = next(net.parameters()).device
    with torch.no_grad():
        update_bn((x_u8[i:i + batch_size].to(device).float().div_(255) for i in range(0, len(x_u8), batch_size)),
                  net)
    net.eval()


def pooled_u8(x_u8, chunk: int = 1024):
    """uint8 (N, C, H, W) average-pooled as the pooled network's first layer pools (to at most
    POOLED_SIZE a side), rounded back to uint8 (an error of at most half a grey level)."""
    import torch
    import torch.nn.functional as F

    if max(x_u8.shape[-2:]) <= POOLED_SIZE:
        return x_u8
    parts = [F.adaptive_avg_pool2d(x_u8[i:i + chunk].float(), POOLED_SIZE).round_().to(torch.uint8)
             for i in range(0, len(x_u8), chunk)]
    return torch.cat(parts)


def class_weights(labels, n_classes: int):
    """Cross-entropy weights inverse to the class counts, 1 on average over the images
    (n / (k * count_c)): every class weighs alike in the loss. A class with no image gets 0."""
    import torch

    counts = np.bincount(np.asarray(labels), minlength=n_classes).astype(np.float64)
    w = np.divide(len(labels), n_classes * counts, out=np.zeros(n_classes), where=counts > 0)
    return torch.as_tensor(w, dtype=torch.float32)
