"""Embedding figure files into one self-contained HTML page.

Images (PNG, JPEG, GIF, SVG) become base64 `data:` URIs. Interactive figures are
plotly's self-contained HTML files (one per figure, each with plotly.js inlined,
see `latentatlas.figures.interactive`); the report keeps each file's `<body>`
content - the plot's div and its own scripts, hover handlers included - and drops
its copy of plotly.js, which the page then carries exactly once.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

MIME = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
        ".svg": "image/svg+xml", ".webp": "image/webp"}

_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE)
_BODY = re.compile(r"<body\b[^>]*>(.*)</body\s*>", re.DOTALL | re.IGNORECASE)
# A plotly div sized by its container ("height:100%") would collapse inside the report.
_FULL_HEIGHT = re.compile(r'(class="plotly-graph-div"\s+style="[^"]*?)height:\s*100%', re.IGNORECASE)


def data_uri(path: Path) -> str:
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _is_plotly_library(attrs: str, body: str) -> bool:
    """The script that *is* plotly.js (inlined or from a CDN), not one that calls it."""
    if "src=" in attrs.lower():
        return "plotly" in attrs.lower()
    head = body.lstrip()[:400]
    return head.startswith("/**") and "plotly.js" in head


def plotly_fragment(text: str, default_height: int = 560) -> tuple[str, int]:
    """(the embeddable body of a plotly HTML file without plotly.js, number of plots in it)."""
    match = _BODY.search(text)
    body = match.group(1) if match else text

    def keep(m: re.Match) -> str:
        return "" if _is_plotly_library(m.group(1), m.group(2)) else m.group(0)

    body = _SCRIPT.sub(keep, body)
    body = _FULL_HEIGHT.sub(rf"\1height:{default_height}px", body)
    return body.strip(), body.count("plotly-graph-div")


def plotly_js() -> str:
    """The plotly.js bundle shipped with the installed plotly (no network)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def interactive_snippet(path: Path, uid: str) -> tuple[str, int] | None:
    """The figure's plotly JSON (written beside its HTML by figures.interactive) as a <div> and
    a <script> that draw it with the page's one plotly.js; None when there is no JSON."""
    json_path = path.with_suffix(".json")
    if not json_path.is_file():
        return None
    try:
        from ...figures.interactive import embed_snippet
    except ImportError:
        return None
    text = json_path.read_text(encoding="utf-8")
    # A "</script>" inside a string of the JSON (a class name, say) would end the script early.
    text = text.replace("</", "<\\/")
    return embed_snippet(text, uid), 1


def figure_html(run_path: Path, fig: dict, wide: bool = False, uid: str = "la-fig") -> tuple[str, int]:
    """One <figure> for an entry of a metrics section's "figures" list; (html, n_plots).

    uid: an id unique in the page, for the <div> of an interactive figure."""
    rel = str(fig.get("path", ""))
    path = (run_path / rel) if rel else None
    title = html.escape(str(fig.get("title") or Path(rel).stem.replace("_", " ")))
    caption = html.escape(str(fig.get("caption") or ""))
    kind = str(fig.get("kind") or (path.suffix[1:] if path else "")).lower()
    cap = f"<figcaption><b>{title}</b>{' &mdash; ' + caption if caption else ''}</figcaption>"
    if path is None or not path.is_file():
        body = f'<p class="missing">figure file {html.escape(rel)} is missing from the run directory</p>'
        return f"<figure>{body}{cap}</figure>", 0
    if kind == "html" or path.suffix.lower() in (".html", ".htm"):
        made = interactive_snippet(path, uid)
        fragment, n = made if made else plotly_fragment(path.read_text(encoding="utf-8", errors="replace"))
        return f'<figure class="wide"><div class="interactive">{fragment}</div>{cap}</figure>', n
    if path.suffix.lower() in MIME:
        # Image grids of 28x28 digits stay crisp when scaled up; plots are smoothed.
        pixels = any(w in rel.lower() for w in ("grid", "recon", "sample", "progress", "walk",
                                                "travers", "means", "manifold", ".gif"))
        cls = ' class="pixels"' if pixels else ""
        klass = ' class="wide"' if wide else ""
        return (f'<figure{klass}><img{cls} alt="{title}" src="{data_uri(path)}">{cap}</figure>', 0)
    return (f'<figure><p class="missing">cannot embed {html.escape(rel)} '
            f'(kind {html.escape(kind)})</p>{cap}</figure>', 0)
