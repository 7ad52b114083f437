"""Interactive 3-D scatter plots (plotly), self-contained and readable offline.

Each figure is written twice:

    figures/<name>.html   a whole page: plotly.js inlined once, the figure, and a
                          small script that shows a point's image on hover
    figures/<name>.json   the plotly figure as JSON (fig.to_json()), for a report
                          that embeds several figures with ONE copy of plotly.js:
                          `embed_snippet(json_text, div_id)` returns the <div> and
                          <script> for one figure (needs window.Plotly loaded once).

Hover: the class name always; the image for up to `hover_images` points (their
PNGs, base64, live in layout.meta.hover_images, indexed by customdata[1]).
All points are drawn (scatter3d is WebGL): 70,000 MNIST codes stay usable.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from ..rundir import atomic_write_text

# Shows the hovered point's image in a corner panel; reads layout.meta.hover_images.
HOVER_JS = """
function latentatlasHover(div) {
  var meta = (div.layout && div.layout.meta) || {};
  var imgs = meta.hover_images || [];
  var box = document.createElement('div');
  box.style.cssText = 'position:absolute;top:8px;left:8px;padding:4px;background:#fff;' +
                      'border:1px solid #999;display:none;z-index:10;font:12px sans-serif;text-align:center';
  var img = document.createElement('img');
  img.style.cssText = 'width:84px;height:84px;image-rendering:pixelated;display:block';
  var cap = document.createElement('div');
  box.appendChild(img); box.appendChild(cap);
  div.style.position = 'relative';
  div.appendChild(box);
  div.on('plotly_hover', function (ev) {
    var p = ev.points && ev.points[0];
    if (!p || !p.customdata) { return; }
    var i = p.customdata[1];
    if (i >= 0 && i < imgs.length) {
      img.src = 'data:image/png;base64,' + imgs[i];
      cap.textContent = p.customdata[0];
      box.style.display = 'block';
    }
  });
  div.on('plotly_unhover', function () { box.style.display = 'none'; });
}
"""


def _png_b64(image: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    from .pixels import displayable

    Image.fromarray(displayable(np.asarray(image)[None])[0]).save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def scatter_3d_figure(embedding, labels, class_names, title: str, note: str | None = None,
                      images=None, hover_images: int = 2000, axis_names=("1", "2", "3"), seed: int = 0,
                      factors: dict | None = None, image_rows=None):
    """A plotly Figure: one Scatter3d trace per class (legend = class names).

    embedding (N, 3); labels (N,) ints; images: optional uint8 (N, C, H, W) for hover (grey or
    RGB), or any stack with image_rows (N,) saying which image belongs to each point (so that a
    caller with a large stack, 60,000 CIFAR images, copies only the few hundred it shows).
    factors: optional {name: (N,) floats} (mnist-color's "hue" in [0, 1)): one more trace per
    factor, every point coloured by its value, and buttons that switch between colouring by
    class and by each factor (a circular factor such as hue gets a cyclic colour scale).
    """
    import plotly.graph_objects as go

    embedding = np.asarray(embedding, dtype=np.float32)
    labels = np.asarray(labels)
    n = len(embedding)
    img_index = np.full(n, -1, dtype=np.int64)
    hover_b64 = []
    if images is not None and hover_images > 0:
        chosen = np.sort(np.random.default_rng(seed).choice(n, size=min(hover_images, n), replace=False))
        img_index[chosen] = np.arange(len(chosen))
        rows = chosen if image_rows is None else np.asarray(image_rows)[chosen]
        hover_b64 = [_png_b64(images[i]) for i in rows]
    size = float(np.clip(6000 / max(n, 1), 1.0, 4.0))
    fig = go.Figure()
    _class_traces(fig, embedding, labels, class_names, img_index, size)
    n_class_traces = len(fig.data)
    for name, values in (factors or {}).items():
        fig.add_trace(_factor_trace(embedding, labels, class_names, img_index, size, name, values))
    subtitle = f"<br><sup>{note}</sup>" if note else ""
    fig.update_layout(
        title=dict(text=f"{title}{subtitle}"), legend=dict(title="class", itemsizing="constant"),
        scene=dict(xaxis_title=axis_names[0], yaxis_title=axis_names[1], zaxis_title=axis_names[2]),
        margin=dict(l=0, r=0, t=60, b=0), height=700,
        meta={"hover_images": hover_b64})
    if factors:
        fig.update_layout(updatemenus=[_colour_switch(n_class_traces, list(factors))])
    return fig


# Cyclic colour scales for factors that live on a circle: "HSV" runs through the hues in order,
# so a point's colour is the tint of its image (hue 0 and 1 meet at red).
CYCLIC_SCALES = {"hue": "HSV"}


def _factor_trace(embedding, labels, class_names, img_index, size: float, name: str, values):
    """Every point in one (hidden) trace, coloured by one factor, with a colour bar."""
    import plotly.graph_objects as go

    values = np.asarray(values, dtype=np.float64)
    cyclic = name in CYCLIC_SCALES
    custom = np.empty((len(embedding), 2), dtype=object)
    custom[:, 0] = [str(class_names[int(c)]) for c in labels]      # the hover image's caption, as above
    custom[:, 1] = img_index
    shown = [html.escape(str(c), quote=False).replace("%", "&#37;") for c in class_names]
    text = [f"{shown[int(c)]}, {name} {v:.2f}" for c, v in zip(labels, values)]
    return go.Scatter3d(
        x=np.round(embedding[:, 0], 4), y=np.round(embedding[:, 1], 4), z=np.round(embedding[:, 2], 4),
        mode="markers", name=f"by {name}", visible=False, showlegend=False, customdata=custom,
        hovertext=text, hovertemplate="%{hovertext}<extra></extra>",
        marker=dict(size=size, color=np.round(values, 4), opacity=0.8,
                    colorscale=CYCLIC_SCALES.get(name, "Viridis"),
                    cmin=0.0 if cyclic else None, cmax=1.0 if cyclic else None,
                    colorbar=dict(title=name, thickness=12)))


def _colour_switch(n_class_traces: int, names: list[str]) -> dict:
    """plotly buttons: show the class traces (with the legend) or one factor's trace."""
    n = n_class_traces + len(names)

    def visible(k):                      # k = -1: the classes; else factor k
        return [i < n_class_traces if k < 0 else i == n_class_traces + k for i in range(n)]

    buttons = [dict(label="colour: class", method="update", args=[{"visible": visible(-1)}, {"showlegend": True}])]
    buttons += [dict(label=f"colour: {name}", method="update", args=[{"visible": visible(k)}, {"showlegend": False}])
                for k, name in enumerate(names)]
    # bottom left, inside the scene: the title and its note take the top
    return dict(type="buttons", direction="right", buttons=buttons, x=0.0, xanchor="left", y=0.0, yanchor="bottom",
                showactive=True, active=0, pad=dict(l=4, b=4))


def _class_traces(fig, embedding, labels, class_names, img_index, size: float) -> None:
    """One Scatter3d trace per class, in the class's tab10/tab20 colour."""
    import plotly.graph_objects as go
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(class_names) <= 10 else "tab20"]
    for c, name in enumerate(class_names):
        m = labels == c
        if not m.any():
            continue
        rgba = cmap(c % cmap.N)
        color = f"rgb({int(rgba[0] * 255)},{int(rgba[1] * 255)},{int(rgba[2] * 255)})"
        custom = np.empty((int(m.sum()), 2), dtype=object)
        custom[:, 0] = str(name)          # raw: the hover caption sets it as textContent
        custom[:, 1] = img_index[m]
        # Plotly renders legend names and hover templates as its own pseudo-HTML, so a
        # class called "<b>&" would turn bold; escape what plotly itself draws ("%" too,
        # which would start a template placeholder).
        shown = html.escape(str(name), quote=False).replace("%", "&#37;")
        fig.add_trace(go.Scatter3d(
            x=np.round(embedding[m, 0], 4), y=np.round(embedding[m, 1], 4), z=np.round(embedding[m, 2], 4),
            mode="markers", name=shown, marker=dict(size=size, color=color, opacity=0.8),
            customdata=custom, hovertemplate=f"{shown}<extra></extra>"))


def embed_snippet(figure_json: str, div_id: str) -> str:
    """<div> + <script> drawing one figure from its JSON; the page must load plotly.js once."""
    return (f'<div id="{div_id}" class="latentatlas-plotly"></div>\n<script>(function(){{\n'
            f"{HOVER_JS}\nvar fig = {figure_json};\n"
            f"var div = document.getElementById('{div_id}');\n"
            "Plotly.newPlot(div, fig.data, fig.layout, {responsive: true}).then(latentatlasHover);\n"
            "})();</script>\n")


def write_html(fig, path) -> tuple[Path, Path]:
    """Write figures/<name>.html (self-contained, offline) and figures/<name>.json."""
    from plotly.offline import get_plotlyjs

    path = Path(path)
    fig_json = fig.to_json()
    title = json.loads(fig_json).get("layout", {}).get("title", {}).get("text", "latentatlas")
    title = str(title).split("<br>")[0]
    page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{_escape(title)}</title></head><body>\n"
            f"<script type=\"text/javascript\">{get_plotlyjs()}</script>\n"
            + embed_snippet(fig_json, "fig") + "</body></html>\n")
    json_path = path.with_suffix(".json")
    atomic_write_text(json_path, fig_json)
    atomic_write_text(path, page)
    return path, json_path


def _escape(text: str) -> str:
    import html

    return html.escape(text)
