"""Loss curves: one figure per history (history.jsonl rows, one per epoch).

The one plotter of the package: training draws train_loss.png with it, and the
report draws the same figure from history.jsonl for a run whose training listed
no curve figure (stopped before it finished).
"""

from __future__ import annotations

from pathlib import Path

from .canvas import new_figure, save_figure

# (history key, legend label, marker) for each panel; a panel is drawn when its keys are there.
OBJECTIVE = (("train_loss", "train", "o-"), ("test_loss", "test", "s-"))
PARTS = (("test_recon", "test reconstruction", "o-"), ("test_kl", "test KL", "s-"))


def _present(history: list[dict], keys) -> list:
    """The (key, label, marker) whose key holds a number in every row."""
    return [k for k in keys if all(isinstance(h.get(k[0]), (int, float)) for h in history)]


def loss_figure(history: list[dict], is_variational: bool | None = None):
    """A Figure of the loss per epoch (and, for a VAE, the test loss's reconstruction and KL
    parts), or None when the rows hold no loss. is_variational None: a VAE when rows have test_kl."""
    objective = _present(history, OBJECTIVE) if history else []
    if not objective:
        return None
    if is_variational is None:
        is_variational = bool(_present(history, PARTS[1:]))
    parts = _present(history, PARTS) if is_variational else []
    ep = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    ncols = 2 if parts else 1
    fig = new_figure(5 * ncols, 3.4)
    axes = fig.subplots(1, ncols, squeeze=False)
    ax = axes[0, 0]
    for key, name, style in objective:
        ax.plot(ep, [h[key] for h in history], style, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss per image")
    ax.set_title("Objective" + (" (reconstruction + beta KL)" if is_variational else ""))
    ax.legend()
    ax.grid(alpha=0.3)
    if parts:
        ax = axes[0, 1]
        for key, name, style in parts:
            ax.plot(ep, [h[key] for h in history], style, label=name)
        ax.set_xlabel("epoch")
        ax.set_title("Parts of the test loss")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def save_loss_curves(path, history: list[dict], is_variational: bool | None = None) -> Path | None:
    """Write loss_figure(...) as a PNG; None (and no file) when there is nothing to draw."""
    fig = loss_figure(history, is_variational)
    return None if fig is None else save_figure(fig, path, dpi=110)
