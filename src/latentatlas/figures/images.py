"""Static figures of generated images and of the latent space behind them (matplotlib object API).

Plain tiled grids and GIFs come from `latentatlas.figures.grids`; these add what
a reader needs around the pixels: row labels (class, latent dimension), axes
in latent units, colour scales, and frames on images the judge disagrees with.

    labelled_grid(path, images (R, K, C, H, W), row_labels, title, wrong=None)
    means_heatmap(path, means (k, d), class_names, title)
    label_heatmap(path, counts (k, k'), row_names, col_names, title)
    distance_bars(path, {name: value}, floor, title)
    manifold_figure(path, images (n, n, C, H, W), xs, ys, title)
    strip_png(path, images (N, C, H, W)) / walk_gif(path, images, ...) / tour_gif(...)

Images are channel-first, C = 1 (grey, drawn with the grey colour map) or 3 (RGB), float in
[0, 1] or uint8; grey stacks without the channel axis ((R, K, H, W), (N, H, W)) are accepted
too. `latentatlas.figures.pixels` converts them for drawing. Every writer is atomic
(`rundir.atomic_save`) and returns the path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .canvas import new_figure, save_figure
from .grids import make_grid, save_gif
from .pixels import displayable, drawable, imshow_style, is_colour, pil_image

# Images are shown as the dataset stores them (light on dark, like MNIST itself);
# the judge's "wrong" frames in red, which stands out on both.
WRONG = (0.90, 0.12, 0.12)
# Grey cells sit 2 pixels apart and a wrong one gets a 1.6 pt frame. A colour image may
# itself be red at its edge, so colour cells get a wider white gap and a thicker frame:
# the red line then always has white on both sides.
GAP = {False: (2, 1.6), True: (3, 2.6)}          # is colour -> (gap in image pixels, frame width in pt)


def _savefig(fig, path) -> Path:
    return save_figure(fig, path, dpi=110, bbox_inches="tight", facecolor="white")


def _figure(w: float, h: float):
    return new_figure(w, h)


def _tile(drawn: np.ndarray, pad: int) -> np.ndarray:
    """(R, K, H, W[, 3]) float images -> one float canvas, white `pad`-pixel gaps around each."""
    r, c, h, w = drawn.shape[:4]
    canvas = np.ones((r * (h + pad) + pad, c * (w + pad) + pad, *drawn.shape[4:]), dtype=np.float32)
    for i in range(r):
        for j in range(c):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            canvas[y:y + h, x:x + w] = drawn[i, j]
    return canvas


def _cell_inches(h: int, w: int) -> float:
    """Inches per image: 0.42 for 28 x 28 and smaller, in proportion above (a 64 x 64 image
    gets as many screen pixels per image pixel as a digit does)."""
    return 0.42 * max(1.0, 28.0 / max(h, w)) * (max(h, w) / 28.0)


def labelled_grid(path, images: np.ndarray, row_labels=None, title: str = "", wrong: np.ndarray | None = None,
                  col_labels=None, row_title: str | None = None) -> Path:
    """A grid (R rows x K columns of images, (R, K, C, H, W)) with a label left of each row.

    wrong: optional bool (R, K); those images get a red frame (e.g. the judge saw
    another class than the one they were sampled for).
    """
    from matplotlib.patches import Rectangle

    drawn = drawable(images, stack_dims=2)                     # (R, K, H, W) or (R, K, H, W, 3)
    r, c, h, w = drawn.shape[:4]
    pad, frame_lw = GAP[is_colour(drawn, stack_dims=2)]
    canvas = _tile(drawn, pad)
    cell = _cell_inches(h, w)
    fig = _figure(max(3.0, c * cell + 1.2), max(1.6, r * cell + (0.6 if title else 0.2)))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.imshow(canvas, interpolation="nearest", **imshow_style(canvas))
    if wrong is not None:
        for i, j in zip(*np.nonzero(np.asarray(wrong))):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            # centred in the gap: pixel k covers [k - 0.5, k + 0.5]
            ax.add_patch(Rectangle((x - pad / 2 - 0.5, y - pad / 2 - 0.5), w + pad, h + pad, fill=False,
                                   edgecolor=WRONG, lw=frame_lw))
    ax.set_xticks([] if col_labels is None else [pad + j * (w + pad) + w / 2 for j in range(c)])
    if col_labels is not None:
        ax.set_xticklabels([str(s) for s in col_labels], fontsize=8)
        ax.xaxis.tick_top()
    ax.set_yticks([] if row_labels is None else [pad + i * (h + pad) + h / 2 for i in range(r)])
    if row_labels is not None:
        ax.set_yticklabels([str(s) for s in row_labels], fontsize=9)
    if row_title:
        ax.set_ylabel(row_title)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10, pad=16 if col_labels is not None else 6)
    return _savefig(fig, path)


def means_heatmap(path, means: np.ndarray, class_names, title: str = "Class means in the latent space") -> Path:
    """Classes x latent dimensions, diverging colours centred on 0 (study 000: "look at the means").

    Each column is also standardised by the codes' spread if the caller passes
    standardised means; the colour bar says which.
    """
    means = np.asarray(means, dtype=np.float64)
    k, d = means.shape
    fig = _figure(min(16.0, 1.6 + 0.42 * d), 1.2 + 0.36 * k)
    ax = fig.add_subplot(111)
    lim = float(np.nanmax(np.abs(means))) or 1.0
    im = ax.imshow(means, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(k))
    ax.set_yticklabels([str(s) for s in class_names], fontsize=9)
    ax.set_xticks(range(d))
    ax.set_xticklabels([f"z{j}" for j in range(d)], fontsize=7 if d > 16 else 9, rotation=90 if d > 16 else 0)
    ax.set_xlabel("latent dimension")
    if d <= 16 and k <= 20:
        for i in range(k):
            for j in range(d):
                v = means[i, j]
                ax.text(j, i, f"{v:.1f}".replace("-0.0", "0.0"), ha="center", va="center", fontsize=7,
                        color="white" if abs(v) > 0.6 * lim else "black")
    fig.colorbar(im, ax=ax, fraction=0.035, pad=0.02)
    ax.set_title(title, fontsize=10)
    return _savefig(fig, path)


def label_heatmap(path, counts: np.ndarray, row_names, col_names, title: str = "",
                  xlabel: str = "label given by the judge", ylabel: str = "sampled for class") -> Path:
    """Row-normalised table of counts (rows: what was asked for, columns: what the judge saw)."""
    counts = np.asarray(counts, dtype=np.float64)
    frac = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    r, c = frac.shape
    fig = _figure(1.8 + 0.5 * c, 1.2 + 0.42 * r)
    ax = fig.add_subplot(111)
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    for i in range(r):
        for j in range(c):
            if counts[i, j]:
                ax.text(j, i, f"{frac[i, j]:.2f}".lstrip("0") if frac[i, j] < 1 else "1", ha="center",
                        va="center", fontsize=7, color="white" if frac[i, j] > 0.6 else "black")
    ax.set_xticks(range(c))
    ax.set_xticklabels([str(s) for s in col_names], fontsize=8, rotation=45 if max(map(len, map(str, col_names))) > 3 else 0,
                       ha="right" if max(map(len, map(str, col_names))) > 3 else "center")
    ax.set_yticks(range(r))
    ax.set_yticklabels([str(s) for s in row_names], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="fraction of the row")
    ax.set_title(title, fontsize=10)
    return _savefig(fig, path)


def distance_bars(path, values: dict, floor: float | None = None, reference: dict | None = None,
                  title: str = "Frechet distance to real test images (lower is better)") -> Path:
    """One horizontal bar per sampler; dashed lines for the floor (real train vs real test)
    and any references (e.g. the model's reconstructions)."""
    names = list(values)
    vals = [float(values[n]) for n in names]
    fig = _figure(6.0, 0.9 + 0.45 * len(names))
    ax = fig.add_subplot(111)
    bars = ax.barh(range(len(names)), vals, color="#4c72b0")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    for b, v in zip(bars, vals):
        ax.text(b.get_width(), b.get_y() + b.get_height() / 2, f" {v:.2f}", va="center", fontsize=8)
    styles = [("real train vs test", floor, "#2ca02c")] + [(k, v, "#ff7f0e") for k, v in (reference or {}).items()]
    for label, v, colour in styles:
        if v is not None:
            ax.axvline(float(v), ls="--", color=colour, lw=1.2, label=f"{label}: {float(v):.2f}")
    if floor is not None or reference:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_xlabel("Frechet distance in the judge's feature space")
    ax.set_xlim(0, max(vals + [floor or 0]) * 1.15 or 1)
    ax.set_title(title, fontsize=10)
    return _savefig(fig, path)


def manifold_figure(path, images: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                    title: str = "Decoded 2-d latent space") -> Path:
    """images (n_rows, n_cols, C, H, W) decoded at grid points (xs[j], ys[i]); axes in latent units."""
    drawn = drawable(images, stack_dims=2)                     # (r, c, H, W) or (r, c, H, W, 3)
    r, c, h, w = drawn.shape[:4]
    canvas = drawn.swapaxes(1, 2).reshape(r * h, c * w, *drawn.shape[4:])   # (r*H, c*W[, 3]), no gaps
    # 0.36 inch per 28-pixel image, and in proportion for larger ones, so they are not shrunk.
    grow = max(1.0, max(h, w) / 28.0)
    fig = _figure(min(10.0 * grow, 1.2 + c * 0.36 * grow), min(10.0 * grow, 1.0 + r * 0.36 * grow))
    ax = fig.add_subplot(111)
    # extent puts each image's centre at its latent coordinate.
    dx = (xs[-1] - xs[0]) / max(c - 1, 1)
    dy = (ys[0] - ys[-1]) / max(r - 1, 1)
    ax.imshow(canvas, interpolation="nearest", **imshow_style(canvas),
              extent=[xs[0] - dx / 2, xs[-1] + dx / 2, ys[-1] - dy / 2, ys[0] + dy / 2], aspect="auto")
    ax.set_xlabel("z0")
    ax.set_ylabel("z1")
    ax.set_title(title, fontsize=10)
    return _savefig(fig, path)


def strip_png(path, images: np.ndarray, title: str = "", t: np.ndarray | None = None) -> Path:
    """A single row of images (N, C, H, W): a walk read left to right, each column labelled
    with its mixing weight t (image = (1 - t) a + t b)."""
    images = np.asarray(images)
    t = np.linspace(0, 1, len(images)) if t is None else np.asarray(t)
    return labelled_grid(path, images[None], col_labels=[f"{v:.2f}".rstrip("0").rstrip(".") or "0" for v in t],
                         title=title)


def _captioned_frames(images: np.ndarray, captions, scale: int) -> list[np.ndarray]:
    """Upscale each drawn uint8 frame, (H, W) grey or (H, W, 3) RGB, by `scale` (nearest) and
    add a caption bar under it: uint8 frames of the same mode."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    out = []
    for img, text in zip(images, captions):
        frame = pil_image(img)
        frame = frame.resize((img.shape[1] * scale, img.shape[0] * scale), Image.NEAREST)
        if text:
            bar = 14
            canvas = Image.new(frame.mode, (frame.width, frame.height + bar), "white")
            canvas.paste(frame, (0, 0))
            draw = ImageDraw.Draw(canvas)
            width = draw.textlength(text, font=font)
            draw.text(((frame.width - width) / 2, frame.height + 1), text, fill="black", font=font)
            frame = canvas
        out.append(np.asarray(frame))
    return out


def walk_gif(path, images: np.ndarray, scale: int = 4, duration_ms: int = 90, bounce: bool = True,
             hold: int = 4, caption: str = "") -> Path:
    """An animated walk through images (N, C, H, W). bounce: play forward then back so the
    loop has no jump; hold: repeat the end frames so the eye can read the endpoints."""
    frames = _captioned_frames(displayable(images), [caption] * len(images), scale)
    if hold > 1:
        frames = [frames[0]] * hold + frames[1:-1] + [frames[-1]] * hold
    if bounce:
        frames = frames + frames[-2:0:-1]
    return save_gif(path, frames, duration_ms=duration_ms, scale=1)


def tour_gif(path, images: np.ndarray, stop_every: int, scale: int = 4, duration_ms: int = 80,
             hold: int = 5, stops=None) -> Path:
    """A closed tour: frames (N, C, H, W), a stop (class mean) every `stop_every` frames, held
    `hold` frames; `stops` names them, and the caption says where the walk is going."""
    images = displayable(images)
    n_stops = (len(images) + stop_every - 1) // stop_every
    stops = list(stops) if stops is not None else [""] * n_stops
    captions = []
    for i in range(len(images)):
        leg, pos = divmod(i, stop_every)
        here, there = stops[leg % len(stops)], stops[(leg + 1) % len(stops)]
        captions.append(str(here) if pos == 0 else (f"{here} -> {there}" if here else ""))
    frames = []
    for i, f in enumerate(_captioned_frames(images, captions, scale)):
        frames.extend([f] * (hold if i % stop_every == 0 else 1))
    return save_gif(path, frames, duration_ms=duration_ms, scale=1)


__all__ = ["labelled_grid", "means_heatmap", "label_heatmap", "distance_bars", "manifold_figure",
           "strip_png", "walk_gif", "tour_gif", "make_grid"]
