"""latentatlas: train conv autoencoders / VAEs on image data and map their latent space.

Importing the package is cheap on purpose (no torch, no scikit-learn): heavy
libraries are imported inside the functions that use them, so that
`latentatlas --help` answers fast.
"""

__version__ = "0.1.0"

from .errors import UserError  # noqa: E402,F401
