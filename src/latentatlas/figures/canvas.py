"""A matplotlib Figure on its own Agg canvas, and atomic saving.

pyplot is never imported: `plt.figure()` registers figures in a global list and
`matplotlib.use("Agg")` switches the backend of whoever imported us (a notebook
would lose its inline plots). A bare `Figure` with a `FigureCanvasAgg` renders
PNGs whatever backend the process has chosen, and is freed like any object.
"""

from __future__ import annotations

import io
from pathlib import Path

from ..rundir import atomic_save


def new_figure(width: float, height: float, dpi: float | None = None):
    """A `matplotlib.figure.Figure` of (width, height) inches, attached to an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path, **savefig_kwargs) -> Path:
    """Write the figure atomically; the format follows the file's suffix (PNG when none)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    atomic_save(path, lambda tmp: fig.savefig(tmp, format=fmt, **savefig_kwargs))
    return path


def png_bytes(fig, **savefig_kwargs) -> bytes:
    """The figure as PNG bytes (for a data URI)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", **savefig_kwargs)
    return buf.getvalue()
