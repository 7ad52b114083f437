"""The HTML report: one self-contained file that opens offline.

    write_report(run_dir, baseline=None) -> Path      # also `latentatlas report RUN_DIR`

Everything shown is read from the run directory through RunDir: config.json,
metrics.json (one section per stage, each listing its figures with the report
section they belong to), history.jsonl and run.json (what `latentatlas run`
recorded: preset, where the data came from, the study quoted). The report draws
nothing of its own but the loss curves of a run whose training stopped before
drawing them. Numbers are never typed here; strings are escaped; images become
data URIs and plotly.js is inlined once for all interactive figures. A stage that
did not run leaves its section with one line saying how to add it.

    layout     SECTIONS (order and titles), which figure goes where, the Page
    sections   one builder per section
    embed      figures as <figure> elements; tables: numbers as tables
"""

from __future__ import annotations

import time
from pathlib import Path

from ... import __version__
from ...errors import UserError
from ...rundir import RunDir
from .embed import plotly_js
from .layout import SECTIONS, Page, not_run, place_figures
from .sections import BUILDERS
from .tables import esc, fmt

__all__ = ["SECTIONS", "render_report", "write_report"]

_ERROR_PROBE = """<script>
/* Counts script errors on the page (a test opens the report in a headless browser). */
window.__latentatlasErrors = [];
window.addEventListener("error", function (e) {
  window.__latentatlasErrors.push(String(e.message || e));
  document.documentElement.setAttribute("data-script-errors", String(window.__latentatlasErrors.length));
});
</script>"""

_DONE_PROBE = """<script>
window.addEventListener("load", function () {
  var n = document.querySelectorAll(".js-plotly-plot .plot-container").length;
  document.documentElement.setAttribute("data-plots-rendered", String(n));
  document.documentElement.setAttribute("data-script-errors", String(window.__latentatlasErrors.length));
});
</script>"""


def _css() -> str:
    from importlib.resources import files

    return (files("latentatlas") / "stages" / "report" / "report.css").read_text(encoding="utf-8")


def _context(run: RunDir, baseline) -> dict:
    """What the section builders read, all of it from the run folder."""
    if not run.path.is_dir():
        raise UserError(f"run directory {run.path} does not exist")
    if not run.is_run():
        raise UserError(f"{run.path} is not a latentatlas run (no config.json, metrics.json or model); "
                        "give the folder that `latentatlas run --out` wrote")
    metrics = run.read_metrics()
    config = run.read_config()
    state = run.read_state()
    class_names = ((metrics.get("data") or {}).get("class_names") or (metrics.get("encode") or {}).get("class_names")
                   or state.get("class_names") or [])
    history = run.read_history()
    return {"run": run, "metrics": metrics, "config": config, "state": state, "history": history,
            "lookup": dict(metrics, history=history),  # study figures may point into history.jsonl
            "placed": place_figures(metrics), "class_names": [str(c) for c in class_names],
            "study": state.get("study") or config.get("study"), "baseline": baseline}


def _sections(page: Page, ctx: dict) -> tuple[list[str], list[str]]:
    """(table-of-contents items, <section> elements) in the report's order."""
    toc, body = [], []
    for key, title in SECTIONS:
        content = BUILDERS[key](page, ctx)
        if not content and key in ("study", "other"):
            continue  # optional sections: absent, not "did not run"
        skipped = not content
        if skipped:
            content = not_run(key, ctx["run"])
        toc.append(f'<li{" class=skipped" if skipped else ""}><a href="#{key}">{esc(title)}</a></li>')
        body.append(f'<section class="card{" skipped" if skipped else ""}" id="{key}"><h2>{esc(title)}</h2>'
                    f"{content}</section>")
    return toc, body


def _badges(ctx: dict) -> str:
    config, state = ctx["config"], ctx["state"]
    model = config.get("model") or {}
    data_cfg = config.get("data") or {}
    badges = [("dataset", data_cfg.get("name")), ("model", model.get("name") or model.get("kind")),
              ("latent size", model.get("latent_dim")), ("preset", state.get("preset")),
              ("epochs", (config.get("train") or {}).get("epochs"))]
    return "".join(f'<span class="badge">{esc(k)} <b>{fmt(v)}</b></span>' for k, v in badges if v is not None)


def render_report(run_dir, baseline=None) -> str:
    """The report's HTML text for a run directory (see the module docstring)."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    ctx = _context(run, baseline)
    page = Page(run)
    toc, body = _sections(page, ctx)
    title = f"latentatlas report: {run.path.name}"
    plotly = ""
    if page.n_plots:
        plotly = ("<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n"
                  f"<script>{plotly_js()}</script>")
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="latentatlas {esc(__version__)}">
<title>{esc(title)}</title>
{_ERROR_PROBE}
<style>
{_css()}
</style>
{plotly}
</head>
<body>
<nav class="toc"><div class="brand">latentatlas</div><div class="run">{esc(run.path.resolve())}</div>
<ol>{"".join(toc)}</ol></nav>
<main>
<header class="top"><h1>{esc(run.path.name)}</h1>
<div class="sub">Report of a latentatlas run, written {esc(generated)}; every number below is read from this
run's metrics.json.</div><div class="badges">{_badges(ctx)}</div></header>
{"".join(body)}
<footer>latentatlas {esc(__version__)} &middot; self-contained: images embedded, plotly.js inlined once
({page.n_plots} interactive figure{"s" if page.n_plots != 1 else ""}).</footer>
</main>
{_DONE_PROBE}
</body>
</html>
"""


def write_report(run_dir, baseline=None) -> Path:
    """Write RUN_DIR/report.html atomically and return its path."""
    t0 = time.perf_counter()
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    text = render_report(run, baseline=baseline)
    out = run.write_report(text)
    run.record_timing("report", time.perf_counter() - t0)
    return out
