"""User data: a folder of images (one sub-folder per class) or an .npz file.

Both end as uint8 (N, C, H, W) images (C = 1 grey or 3 RGB) with int64 labels
0..k-1, like the built-in datasets, so everything downstream treats them alike.
The reading is split by concern: image_folder.py (folders: modes, colour, size; its
docstring has the rules), npz.py (arrays), resize.py (resizing whole arrays); their
names are importable from here as before.
"""

from __future__ import annotations

from .image_folder import (DEFAULT_IMAGE_SIZE, FIT_RULES, IMAGE_SUFFIXES, LEGACY_FIT,  # noqa: F401
                           LEGACY_SUFFIXES, PAD_COLOUR, load_image_folder)
from .npz import load_npz  # noqa: F401
from .resize import check_image_size, resize_images  # noqa: F401
