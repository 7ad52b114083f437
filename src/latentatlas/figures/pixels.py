"""Images as drawn: one conversion from the stages' layout to what Pillow and matplotlib take.

Stages hand images over channel-first, as the models produce them: a stack (N, C, H, W)
with C = 1 (grey) or 3 (RGB), float in [0, 1] or uint8; grey stacks without the channel
axis, (N, H, W), are accepted too. Pillow and matplotlib want channel-last: (H, W) for grey
(drawn with a grey colour map) and (H, W, 3) for colour.
"""

from __future__ import annotations

import numpy as np


def channels_last(images: np.ndarray, image_dims: int = 3) -> np.ndarray:
    """A stack of images -> (..., H, W) grey or (..., H, W, 3) RGB, same dtype.

    image_dims: how many trailing axes one image has in the channel-first input: 3 for
    (C, H, W), 2 for a grey (H, W) without a channel axis. Leading axes are kept.
    """
    x = np.asarray(images)
    if image_dims == 2:
        return x
    if x.shape[-3] not in (1, 3):
        raise ValueError(f"images must be channel-first with 1 or 3 channels, got shape {x.shape}")
    x = np.moveaxis(x, -3, -1)
    return x[..., 0] if x.shape[-1] == 1 else x


def has_channel_axis(images: np.ndarray, stack_dims: int) -> bool:
    """Whether a stack with `stack_dims` leading axes (N: 1, a (R, K) grid: 2) carries a channel axis."""
    x = np.asarray(images)
    return x.ndim == stack_dims + 3 and x.shape[stack_dims] in (1, 3)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float in [0, 1] (clipped) or uint8 -> uint8."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def displayable(images: np.ndarray, stack_dims: int = 1) -> np.ndarray:
    """uint8 channel-last images of a stack with `stack_dims` leading axes (see `channels_last`)."""
    dims = 3 if has_channel_axis(images, stack_dims) else 2
    return to_uint8(channels_last(images, dims))
