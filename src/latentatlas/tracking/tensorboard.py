"""TensorBoard through torch.utils.tensorboard: scalars, progress grids, and the test codes
as an Embedding Projector embedding (class name per point, a sprite of the images).

    RUN/tensorboard/                     (or TENSORBOARD_DIR/<run folder name>)
      events.out.tfevents.*              loss/train, loss/test, kl/..., lr/epoch, step/*, time/*;
                                         progress/* images
      projector_config.pbtxt             points the Projector at the embedding below
      000NN/test_codes/                  tensors.tsv, metadata.tsv (class, label), sprite.png

`tensorboard --logdir runs` then shows every run, its Projector tab included.
`export_tensorboard(run_dir, log_dir)` writes the same for a finished run.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..rundir import CONFIG, LATENTS, TENSORBOARD_DIR, RunDir
from .base import replay

INSTALL = "the tensorboard package is not installed; pip install 'latentatlas[tensorboard]'"
EMBEDDING_TAG = "test_codes"
# The Projector handles ~10k points with images smoothly; more goes in a seeded subsample.
MAX_POINTS = 10_000


def summary_writer_class():
    """torch's SummaryWriter, or UserError with the install line when tensorboard is missing."""
    try:
        import tensorboard  # noqa: F401  (torch.utils.tensorboard needs it, and says so less kindly)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError(INSTALL) from None
    return SummaryWriter


def log_dir_for(run_dir, tensorboard_dir=None) -> Path:
    """RUN/tensorboard, or TENSORBOARD_DIR/<run folder name> (runs side by side under one --logdir)."""
    if tensorboard_dir:
        return Path(tensorboard_dir) / Path(run_dir).resolve().name
    return Path(run_dir) / TENSORBOARD_DIR


def clear_logs(log_dir: Path) -> None:
    """Remove what an earlier training logged here (only the files this module writes)."""
    if not log_dir.is_dir():
        return
    import shutil

    for path in log_dir.iterdir():
        if path.is_file() and (path.name.startswith("events.out.tfevents.") or path.name == "projector_config.pbtxt"):
            path.unlink()
        elif path.is_dir() and re.fullmatch(r"\d{5}", path.name) and (path / EMBEDDING_TAG).is_dir():
            shutil.rmtree(path / EMBEDDING_TAG)                      # add_embedding's step/tag folder
            if not any(path.iterdir()):
                path.rmdir()


def epoch_tag(key: str) -> str:
    """history.jsonl key -> TensorBoard tag, train beside test in one group: train_loss -> loss/train,
    test_kl -> kl/test, lr -> lr/epoch, seconds -> time/seconds."""
    if key in ("seconds", "train_seconds", "cpu_seconds", "images_per_s"):
        return f"time/{key}"
    for split in ("train", "test"):
        if key.startswith(split + "_"):
            return f"{key[len(split) + 1:]}/{split}"
    return f"{key}/epoch"


def _image_array(image) -> np.ndarray:
    """A PNG path (a grey or RGB progress grid) or a drawn array ((H, W) grey or (H, W, 3) RGB,
    float in [0, 1] or uint8) -> uint8 (H, W, C) for add_image."""
    from ..figures.pixels import to_uint8

    if isinstance(image, (str, Path)):
        from PIL import Image

        with Image.open(image) as im:
            image = np.asarray(im.convert("RGB"))
    arr = to_uint8(np.asarray(image))
    return arr[:, :, None] if arr.ndim == 2 else arr


class TensorBoardTracker:
    name = "tensorboard"

    def __init__(self, log_dir, fresh: bool = True):
        writer_cls = summary_writer_class()
        self.log_dir = Path(log_dir)
        if fresh:
            clear_logs(self.log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)   # a file in the way fails here, not later
        self.writer = writer_cls(log_dir=str(self.log_dir))

    def on_step(self, step: int, losses: dict, lr: float) -> None:
        for key, value in losses.items():
            self.writer.add_scalar(f"step/{key}", float(value), step)
        self.writer.add_scalar("step/lr", float(lr), step)

    def on_epoch(self, epoch: int, row: dict) -> None:
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and math.isfinite(value):
                self.writer.add_scalar(epoch_tag(key), value, epoch)
        self.writer.flush()

    def on_images(self, epoch: int, tag: str, image) -> None:
        self.writer.add_image(tag, _image_array(image), epoch, dataformats="HWC")
        self.writer.flush()

    def on_finish(self, run_dir, metrics: dict) -> None:
        if RunDir(run_dir).read_history():             # nothing to embed before a first epoch
            add_test_embedding(self.writer, run_dir, step=int(metrics.get("epochs") or 0))
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def test_codes(run_dir, max_points: int = MAX_POINTS, seed: int = 0, device=None) -> dict:
    """The test split's codes (AE z / VAE means mu), class names and images, subsampled to max_points.

    latents.npz when the run has one; else the test split encoded in memory, writing nothing
    (latents.npz is the encode stage's: `latentatlas export` encodes a finished run first).
    """
    from ..context import open_run
    from ..models.codec import encode_images

    ctx = open_run(run_dir, device=device)
    ds = ctx.dataset(needed_by="is it a latentatlas run?")
    if ctx.has_latents:
        latents = ctx.latents
        codes, labels, names = latents["test_mean"], latents["test_labels"], latents["class_names"]
    else:
        codes, _ = encode_images(ctx.model, ds.x_test, 1024, ctx.device, "encode test")
        labels, names = ds.y_test, [str(c) for c in ds.class_names]
    if len(codes) != len(ds.x_test):
        raise UserError(f"{ctx.run / LATENTS} holds {len(codes)} test codes but the data has {len(ds.x_test)} test "
                        f"images; run `latentatlas encode {ctx.path}` again")
    idx = np.arange(len(codes))
    if len(idx) > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(len(idx), max_points, replace=False))
    return {"codes": np.asarray(codes, np.float32)[idx], "labels": np.asarray(labels)[idx],
            "class_names": list(names), "images": ds.x_test[idx], "index": idx}


def add_test_embedding(writer, run_dir, step: int = 0) -> int:
    """The test codes as a Projector embedding: metadata = class name (and label) per point, label_img =
    a sprite of their images."""
    import torch

    got = test_codes(run_dir)
    # (N, C, H, W) in [0, 1]: torch tiles them into the sprite, grey repeated to RGB, colour kept
    images = torch.from_numpy(got["images"]).float().div_(255)
    # Two columns, so the Projector can label and colour points by class name (or its number).
    metadata = [[got["class_names"][int(y)], str(int(y))] for y in got["labels"]]
    writer.add_embedding(torch.from_numpy(got["codes"]), metadata=metadata, metadata_header=["class", "label"],
                         label_img=images, global_step=step, tag=EMBEDDING_TAG)
    return len(metadata)


def export_tensorboard(run_dir, log_dir, ensure_codes=None) -> dict:
    """Write a finished run's history, progress grids and test-code embedding as TensorBoard logs.
    ensure_codes: called before the embedding is read (the caller's encode stage writes a
    missing latents.npz); without it a run without codes is encoded in memory."""
    rd = RunDir(run_dir)
    rd.require(CONFIG)
    history = rd.read_history()
    if not history:
        raise UserError(f"{rd.path} has no history.jsonl (no epoch was trained); nothing to export")
    log_dir = Path(log_dir)
    if log_dir.exists() and not log_dir.is_dir():
        raise UserError(f"{log_dir} exists and is not a folder; choose another --tensorboard folder")
    try:
        tracker = TensorBoardTracker(log_dir, fresh=True)
    except OSError as exc:
        raise UserError(f"cannot write TensorBoard logs to {log_dir} ({exc.strerror or exc}); "
                        "choose a writable folder") from None
    try:
        replay(tracker, rd)
        if ensure_codes is not None:
            ensure_codes()
        n = add_test_embedding(tracker.writer, rd.path, step=int(history[-1]["epoch"]))
    finally:
        tracker.close()
    return {"log_dir": str(log_dir), "epochs": len(history), "points": n}


# -- the Backend calls (tracking/base.py) ---------------------------------------------------
def open_tracker(run_dir, train_cfg=None, resume: bool = False) -> TensorBoardTracker:
    return TensorBoardTracker(log_dir_for(run_dir, getattr(train_cfg, "tensorboard_dir", None)), fresh=not resume)


def after_report(run_dir, train_cfg=None) -> str | None:
    """Where training was reused (and so logged nothing): the finished run's export."""
    log_dir = log_dir_for(run_dir, getattr(train_cfg, "tensorboard_dir", None))
    if log_dir.is_dir() and any(log_dir.glob("events.out.tfevents.*")):
        return None
    return export(run_dir, log_dir=log_dir)


def export(run_dir, ensure_codes=None, log_dir=None) -> str:
    """export_tensorboard into log_dir (default RUN/tensorboard); the line saying how to view it."""
    out = export_tensorboard(run_dir, log_dir or log_dir_for(run_dir), ensure_codes=ensure_codes)
    return (f"tensorboard: {out['epochs']} epochs and an embedding of {out['points']} test codes in "
            f"{out['log_dir']}; view with `tensorboard --logdir {out['log_dir']}`")
