"""Images as drawn: one conversion from the stages' layout to what Pillow and matplotlib take.

Stages hand images over channel-first, as the models produce them: a stack (N, C, H, W)
with C = 1 (grey) or 3 (RGB), float in [0, 1] or uint8; grey stacks without the channel
axis, (N, H, W), are accepted too. Pillow and matplotlib want channel-last: (H, W) for grey
(drawn with a grey colour map) and (H, W, 3) for colour.

    displayable(images, stack_dims)  uint8, channel-last: what Pillow writes
    drawable(images, stack_dims)     float32 in [0, 1], channel-last: what matplotlib shows
    imshow_style(drawn)              the imshow keywords for such an array (grey: cmap gray, 0..1)
    pil_image(drawn)                 a uint8 (H, W) or (H, W, 3) array -> a Pillow image, mode L or RGB
    same_mode(frames)                frames of one mode (grey ones made RGB if any frame is colour)
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


def _image_dims(images: np.ndarray, stack_dims: int) -> int:
    """3 for a channel-first stack, 2 for a grey one without the channel axis; else ValueError."""
    x = np.asarray(images)
    if has_channel_axis(x, stack_dims):
        return 3
    if x.ndim == stack_dims + 2:
        return 2
    layout = "(N, C, H, W) or (N, H, W)" if stack_dims == 1 else "(R, K, C, H, W) or (R, K, H, W)"
    raise ValueError(f"images must be {layout} with C = 1 or 3, got shape {x.shape}")


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float in [0, 1] (clipped) or uint8 -> uint8."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 (/ 255) or float (clipped to [0, 1]) -> float32 in [0, 1]."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    return np.clip(x.astype(np.float32), 0.0, 1.0)


def displayable(images: np.ndarray, stack_dims: int = 1) -> np.ndarray:
    """uint8 channel-last images of a stack with `stack_dims` leading axes (see `channels_last`)."""
    return to_uint8(channels_last(images, _image_dims(images, stack_dims)))


def drawable(images: np.ndarray, stack_dims: int = 1) -> np.ndarray:
    """float32 channel-last images in [0, 1] of a stack with `stack_dims` leading axes."""
    return to_float(channels_last(images, _image_dims(images, stack_dims)))


def is_colour(drawn: np.ndarray, stack_dims: int = 0) -> bool:
    """Whether channel-last images (a stack with `stack_dims` leading axes) are RGB rather than grey."""
    return np.ndim(drawn) == stack_dims + 3


def imshow_style(drawn: np.ndarray) -> dict:
    """matplotlib imshow keywords for one channel-last image: grey through the grey colour map on
    a fixed 0..1 scale (so a faint image stays faint); RGB is shown as it is."""
    return {} if is_colour(drawn) else {"cmap": "gray", "vmin": 0, "vmax": 1}


def pil_image(drawn: np.ndarray):
    """uint8 (H, W) -> a mode-L Pillow image, (H, W, 3) -> mode RGB."""
    from PIL import Image

    x = np.ascontiguousarray(to_uint8(drawn))
    if x.ndim == 2 or (x.ndim == 3 and x.shape[-1] == 3):
        return Image.fromarray(x)     # uint8 (H, W) -> L, (H, W, 3) -> RGB (the mode argument is deprecated)
    raise ValueError(f"an image to draw must be (H, W) grey or (H, W, 3) RGB, got shape {x.shape}")


def same_mode(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Channel-last frames, grey ones repeated to RGB when any frame is colour (one GIF, one mode)."""
    if not any(is_colour(f) for f in frames):
        return frames
    return [f if is_colour(f) else np.repeat(f[..., None], 3, axis=-1) for f in frames]

