"""The judge's augmentations (estimators/classifier.py): one-pixel shifts for grey digits, random
crops and mirror images for colour, all drawn on the CPU from a seeded generator."""

from __future__ import annotations


def shifted(x, idx, g):
    """The grey recipe's batch: one-pixel random shifts, cheap augmentation that buys the last
    few tenths of a percent on MNIST without slowing an epoch."""
    import torch

    dx, dy = torch.randint(-1, 2, (2,), generator=g).tolist()
    return torch.roll(x[idx], shifts=(dy, dx), dims=(2, 3))


def digit_classes(class_names) -> bool:
    """Classes named 0-9 (SVHN, mnist-color): a mirrored digit is another symbol, so no flips."""
    return all(str(c).strip() in set("0123456789") for c in class_names)


def augment(xb_u8, g, flip: bool, pad: int = 4):
    """uint8 (B, C, H, W) -> float [0, 1]: a random crop of the image reflect-padded by `pad`
    pixels (each image its own offset) and, with `flip`, a mirror image half of the time."""
    import torch
    import torch.nn.functional as F

    xb = xb_u8.float().div_(255)
    b, c, h, w = xb.shape
    dev = xb.device                               # the offsets are drawn on the CPU (seeded), used there
    pad = min(pad, h - 1, w - 1)                  # reflect padding needs a wider image than the pad
    if pad > 0:
        xp = F.pad(xb, (pad, pad, pad, pad), mode="reflect")
        dy = torch.randint(0, 2 * pad + 1, (b,), generator=g).to(dev, non_blocking=True)
        dx = torch.randint(0, 2 * pad + 1, (b,), generator=g).to(dev, non_blocking=True)
        rows = (dy[:, None] + torch.arange(h, device=dev))[:, None, :, None]          # (B, 1, H, 1)
        cols = (dx[:, None] + torch.arange(w, device=dev))[:, None, None, :]          # (B, 1, 1, W)
        xb = xp[torch.arange(b, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None],
                rows, cols]
    if flip:
        mirror = (torch.rand(b, generator=g) < 0.5).to(dev, non_blocking=True)[:, None, None, None]
        xb = torch.where(mirror, xb.flip(3), xb)
    return xb.contiguous()
