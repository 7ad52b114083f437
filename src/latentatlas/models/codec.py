"""Images to codes and codes to images with a trained model, in batches, without gradients.

    encode_images(model, images uint8 (N, C, H, W), batch_size, device) -> (mean (N, d), logvar or None)
    decode_codes(model, codes (N, d)) -> float32 images (N, C, H, W) in [0, 1]

Every stage and tool that encodes or decodes (encode, generation, the explorer, the TensorBoard
export) goes through these two, so batching, dtype and device handling are written once.
"""

from __future__ import annotations

import numpy as np


def encode_images(model, images: np.ndarray, batch_size: int, device, desc: str = "encode"):
    """uint8 (N, C, H, W) -> (mean (N, d), logvar (N, d) or None), in batches, no grad."""
    import torch

    from ..runtime.progress import progress_bar

    means, logvars = [], []
    with torch.no_grad(), progress_bar(len(images), desc, unit="img", unit_scale=True) as bar:
        for start in range(0, len(images), batch_size):
            x = torch.from_numpy(images[start:start + batch_size]).to(device)
            x = x.float().div_(255)                         # (B, C, H, W) in [0, 1]
            out = model.encode(x)
            if isinstance(out, (tuple, list)):              # VAE: (mu, logvar), each (B, d)
                means.append(out[0].float().cpu().numpy())
                logvars.append(out[1].float().cpu().numpy())
            else:                                           # AE: z (B, d)
                means.append(out.float().cpu().numpy())
            bar.update(len(x))
    mean = np.concatenate(means).astype(np.float32)
    logvar = np.concatenate(logvars).astype(np.float32) if logvars else None
    return mean, logvar


def decode_codes(model, codes: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """(N, d) codes -> (N, C, H, W) float32 images in [0, 1], in batches, no grad, on the
    model's device."""
    import torch

    codes = np.asarray(codes, dtype=np.float32)
    try:
        device = next(model.parameters()).device
    except (AttributeError, StopIteration):       # a stand-in decoder without weights
        device = torch.device("cpu")
    out = []
    with torch.no_grad():
        for i in range(0, len(codes), batch_size):
            x = model.decode(torch.from_numpy(codes[i:i + batch_size]).to(device))   # (B, C, H, W)
            out.append(x.float().cpu().numpy())
    if not out:
        h, w = getattr(model, "image_size", (28, 28))
        return np.zeros((0, getattr(model, "in_channels", 1), h, w), np.float32)
    return np.concatenate(out)
