"""The HTML report: one self-contained file that opens offline.

    write_report(run_dir, baseline=None) -> Path      # also `latentatlas report RUN_DIR`

Everything shown is read from the run directory: config.json, metrics.json (one
section per stage, each listing its figures), history.jsonl and run.json (what
`latentatlas run` recorded: preset, where the data came from, the study quoted).
Numbers are never typed here; strings are escaped; images become data URIs and
plotly.js is inlined once for all interactive figures. A stage that did not run
leaves its section with one line saying how to add it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .. import __version__
from ..errors import UserError
from ..rundir import CONFIG, HISTORY, REPORT, RunDir, atomic_write_text, read_json
from .embed import figure_html, plotly_js
from .tables import (DASH, esc, fmt, get_path, is_matrix, is_scalar, kv_table, label, matrix_table,
                     records_table, render_any)

RUN_STATE = "run.json"  # written by `latentatlas run` (latentatlas.pipeline)

# (anchor, title): the report's order, fixed by the issue.
SECTIONS = [
    ("data", "Data and configuration"),
    ("study", "The study and ours"),
    ("training", "Training"),
    ("reconstructions", "Reconstructions of test images"),
    ("projections", "Projections: before and after"),
    ("pca", "PCA spectrum"),
    ("probes", "Probes"),
    ("clustering", "Clustering"),
    ("generation", "Generation and the judge"),
    ("walks", "Walks, traversals and decoded means"),
    ("other", "Other figures"),
    ("timings", "Timings"),
]

# metrics.json section -> report section, for figures no keyword below claims.
SECTION_OF = {"data": "data", "train": "training", "encode": "projections", "projections": "projections",
              "probes": "probes", "clustering": "clustering", "generation": "generation",
              "judge": "generation", "interpolation": "walks"}
# Keywords in a figure's path or title that place it regardless of the section that made it.
# (Matched on the file name only: titles are free text, "VAE means mu" is not a walk.)
KEYWORDS = [("reconstructions", ("recon",)), ("pca", ("spectrum", "eigen", "scree")),
            ("walks", ("walk", "interpolat", "travers", "decoded_means", "class_means", "manifold", "tour"))]

# How to fill a section that is missing, shown instead of breaking.
HOW_TO = {
    "training": "latentatlas train --out RUN",
    "reconstructions": "latentatlas train --out RUN",
    "projections": "latentatlas analyze RUN",
    "pca": "latentatlas analyze RUN",
    "probes": "latentatlas analyze RUN",
    "clustering": "latentatlas analyze RUN",
    "generation": "latentatlas sample RUN",
    "walks": "latentatlas interpolate RUN",
}


def _read_optional_json(path: Path) -> dict:
    return read_json(path) if path.is_file() else {}


def _history(run: RunDir) -> list[dict]:
    path = run / HISTORY
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by an interrupted run: the report shows the complete ones
    return rows


def _route(figures: list[tuple[str, dict]]) -> dict[str, list[dict]]:
    """Place every figure in exactly one report section."""
    out: dict[str, list[dict]] = {key: [] for key, _ in SECTIONS}
    for section, fig in figures:
        text = Path(str(fig.get("path", ""))).name.lower()
        target = None
        for key, words in KEYWORDS:
            if any(w in text for w in words):
                target = key
                break
        out[target or SECTION_OF.get(section, "other")].append(fig)
    out["projections"].sort(key=_projection_order)
    return out


def _projection_order(fig: dict) -> tuple:
    """Each method's latent ("after") figures, then its raw-pixel ("before") one; stable otherwise."""
    import re

    name = Path(str(fig.get("path", ""))).stem
    m = re.match(r"projections_(raw_)?([a-z]+)_(\d)d", name)
    if not m:
        return (1, "", 0, 0)
    order = ["pca", "lda", "tsne", "umap"]
    method = order.index(m.group(2)) if m.group(2) in order else len(order)
    return (0, method, int(m.group(3)) if not m.group(1) else 2, 1 if m.group(1) else 0)


class _Page:
    """Collects the sections' HTML and counts interactive plots (plotly.js goes in once)."""

    def __init__(self, run: RunDir):
        self.run = run
        self.n_plots = 0
        self.n_figures = 0

    def figures(self, figs: list[dict], wide: bool = False) -> str:
        parts = []
        for fig in figs:
            self.n_figures += 1
            body, n = figure_html(self.run.path, fig, wide=wide, uid=f"la-fig-{self.n_figures}")
            self.n_plots += n
            parts.append(body)
        return f'<div class="figures">{"".join(parts)}</div>' if parts else ""


def _not_run(key: str, run: RunDir) -> str:
    cmd = HOW_TO.get(key)
    how = f" <code>{esc(cmd.replace('RUN', str(run.path)))}</code> adds it." if cmd else ""
    return f'<p class="note">This stage did not run for this report.{how}</p>'


# -- sections ----------------------------------------------------------------------------

def _data_section(page: _Page, ctx: dict) -> str:
    metrics, config, state = ctx["metrics"], ctx["config"], ctx["state"]
    parts = []
    if state.get("data_note"):
        parts.append(f'<p class="notice">{esc(state["data_note"])}</p>')
    data = metrics.get("data") or {}
    if data:
        parts.append(kv_table({k: v for k, v in data.items() if k not in ("note", "class_names", "original_labels")}))
        names = [str(c) for c in (data.get("class_names") or ctx["class_names"])]
        splits = {k: v for k, v in data.items() if isinstance(v, dict) and isinstance(v.get("class_counts"), list)}
        if splits and names:
            head = "<tr><th>class</th>" + "".join(f"<th class=num>{esc(s)}</th>" for s in splits) + "</tr>"
            rows = []
            for i, name in enumerate(names):
                cells = "".join(f"<td class=num>{fmt(s['class_counts'][i] if i < len(s['class_counts']) else None)}</td>"
                                for s in splits.values())
                rows.append(f"<tr><th>{esc(name)}</th>{cells}</tr>")
            totals = "".join(f"<td class=num>{fmt(s.get('images'))}</td>" for s in splits.values())
            rows.append(f'<tr class="total"><td>all</td>{totals}</tr>')
            parts.append(f"<h3>Images per class</h3><table>{head}{''.join(rows)}</table>")
            px = {f"{k} pixels": f"{fmt(s.get('pixel_min'))} to {fmt(s.get('pixel_max'))}, mean {fmt(s.get('pixel_mean'))}"
                  for k, s in splits.items() if "pixel_min" in s}
            if px:
                parts.append(kv_table(px))
        for key, value in data.items():
            if is_matrix(value):
                parts.append(f"<h4>{label(key)}</h4>{matrix_table(value, names, None)}")
    elif ctx["class_names"]:
        parts.append(f'<p>Classes: {esc(", ".join(ctx["class_names"]))}</p>')
    parts.append(page.figures(ctx["routed"]["data"]))
    encode = metrics.get("encode") or {}
    if encode:
        parts.append("<h3>Latent codes</h3>" + kv_table(encode))
    cfg_tables = []
    for section in ("data", "model", "train", "analysis", "generate"):
        sec = config.get(section)
        if isinstance(sec, dict) and sec:
            # Unset keys (None: "the model's or stage's own default") are left out.
            flat = {k: (", ".join(map(str, v)) if isinstance(v, list) and all(is_scalar(x) for x in v)
                        else (v if is_scalar(v) else json.dumps(v))) for k, v in sec.items() if v is not None}
            cfg_tables.append(f"<div><h4>[{esc(section)}]</h4>{kv_table(flat)}</div>")
    if cfg_tables:
        parts.append('<h3>Configuration</h3><p class="note">From config.json; keys left unset take the '
                     f'model\'s or stage\'s own default.</p><div class="configs">{"".join(cfg_tables)}</div>')
    return "".join(parts)


def _baseline_metrics(ctx: dict, study: dict) -> tuple[dict | None, str]:
    """metrics.json of our default run to put beside the study, and how it was found."""
    base = ctx.get("baseline")
    name = study.get("baseline")
    candidates = [Path(base)] if base else []
    if not base and name:
        candidates.append(ctx["run"].path.parent / name)
    for cand in candidates:
        metrics_file = cand / "metrics.json"
        if metrics_file.is_file():
            lookup = dict(_read_optional_json(metrics_file), history=_history(RunDir(cand)))
            return lookup, str(cand)
    return None, str(name or "default")


def _study_section(page: _Page, ctx: dict) -> str:
    study = ctx["study"]
    if not study:
        return ""
    base_metrics, base_where = _baseline_metrics(ctx, study)
    head = ("<tr><th>figure</th><th class=\"num\">the study (quoted)</th><th class=\"num\">this run</th>"
            f"<th class=\"num\">our default ({esc(Path(base_where).name)})</th><th>better</th><th>note</th></tr>")
    rows = []
    for fig in study.get("figures") or []:
        published = fig.get("published")
        pub = fmt(published) if published is not None else DASH
        ours = get_path(ctx["lookup"], fig["metric"]) if fig.get("metric") else None
        theirs = get_path(base_metrics, fig["metric"]) if (base_metrics and fig.get("metric")) else None
        ours_cell = fmt(ours) if is_scalar(ours) else esc(json.dumps(ours))
        if base_metrics is None:
            base_cell = DASH
        else:
            base_cell = fmt(theirs) if is_scalar(theirs) else esc(json.dumps(theirs))
        rows.append(f"<tr><th>{esc(fig.get('name', ''))}</th><td class=\"num\">{pub}</td>"
                    f"<td class=\"num\">{ours_cell}</td><td class=\"num\">{base_cell}</td>"
                    f"<td>{esc(fig.get('better') or '')}</td><td>{esc(fig.get('note') or '')}</td></tr>")
    parts = [f"<p><b>{esc(study.get('title', ''))}</b></p>" if study.get("title") else "",
             f'<p class="note">The "study" column quotes the published figures ({esc(study.get("source", ""))}); '
             "the other columns are measured by latentatlas from this run's metrics.json "
             "(and from our default run's).</p>",
             f'<div class="table-scroll"><table>{head}{"".join(rows)}</table></div>']
    if base_metrics is None and study.get("baseline"):
        preset = study["baseline"].replace("-fashion", "")
        extra = f" {study['baseline_options']}" if study.get("baseline_options") else ""
        parts.append(f'<p class="note">Run <code>latentatlas run --preset {esc(preset)}{esc(extra)} '
                     f'--out {esc(str(ctx["run"].path.parent / study["baseline"]))}</code> to fill the '
                     "default column (then <code>latentatlas report</code> this run again), or pass "
                     "<code>--baseline RUN_DIR</code>.</p>")
    return "".join(parts)


def _curves_png(history: list[dict]) -> str | None:
    """Loss curves drawn from history.jsonl when training listed no curve figure of its own."""
    keys = [k for k in history[0] if "loss" in k and all(isinstance(h.get(k), (int, float)) for h in history)]
    if not keys:
        return None
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=110)
    for k in keys[:6]:
        ax.plot(epochs, [h[k] for h in history], marker="o", ms=3, label=k.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    import base64

    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _training_section(page: _Page, ctx: dict) -> str:
    train = ctx["metrics"].get("train") or {}
    history = ctx["history"]
    figs = ctx["routed"]["training"]
    if not train and not history and not figs:
        return ""
    parts = [kv_table(train)]
    for key, value in train.items():
        if isinstance(value, dict) and value and all(is_scalar(v) for v in value.values()):
            parts.append(f"<h4>{label(key)}</h4>{kv_table(value)}")
    has_curves = any(any(w in f"{f.get('path', '')} {f.get('title', '')}".lower() for w in ("curve", "loss"))
                     for f in figs)
    if history and not has_curves:
        uri = _curves_png(history)
        if uri:
            parts.append(f'<div class="figures"><figure><img alt="training curves" src="{uri}">'
                         "<figcaption><b>Training curves</b> &mdash; drawn from history.jsonl"
                         "</figcaption></figure></div>")
    parts.append(page.figures(figs))
    if history:
        cols = [k for k in history[0] if is_scalar(history[0][k])]
        rows = {str(h.get("epoch", i + 1)): h for i, h in enumerate(history)}
        parts.append(f"<details><summary>history.jsonl: {len(history)} epochs</summary>"
                     f"{records_table(rows, [c for c in cols if c != 'epoch'], 'epoch')}</details>")
    return "".join(parts)


def _metrics_section(page: _Page, ctx: dict, key: str, sections: list[str]) -> str:
    """A section made of metrics.json sections rendered as tables, then its figures."""
    parts = []
    for name in sections:
        value = ctx["metrics"].get(name)
        if value:
            if len(sections) > 1:
                parts.append(f"<h3>{label(name)}</h3>")
            parts.append(render_any(value, ctx["class_names"]))
    figs = ctx["routed"][key]
    if not parts and not figs:
        return ""
    parts.append(page.figures(figs))
    return "".join(parts)


QUALITY = (("knn_accuracy", "kNN accuracy"), ("silhouette", "silhouette"), ("trustworthiness", "trustworthiness"))


def _projections_section(page: _Page, ctx: dict) -> str:
    """Before (raw pixels) and after (codes), side by side for every projection that has both."""
    proj = ctx["metrics"].get("projections") or {}
    figs = ctx["routed"]["projections"]
    if not proj and not figs:
        return ""
    entries = {k: v for k, v in proj.items() if isinstance(v, dict) and ("latent" in v or "raw" in v)}
    parts = []
    if proj.get("features_described"):
        parts.append(f"<p>Codes analysed: <b>{esc(proj['features_described'])}</b>"
                     f"{' (' + fmt(proj.get('latent_dim')) + '-d)' if proj.get('latent_dim') else ''}; "
                     f"{fmt(proj.get('n_points'))} points, projections fitted on {fmt(proj.get('fit_points'))}, "
                     f"scored on {fmt(proj.get('eval_points'))}.</p>")
    if proj.get("quality_measures"):
        parts.append(f'<p class="note">{esc(proj["quality_measures"])}</p>')
    if entries:
        head = ("<tr><th>projection</th><th class=num>points</th><th class=num>seconds</th>"
                + "".join(f"<th class=num>{esc(title)} after</th><th class=num>before</th>" for _, title in QUALITY)
                + "</tr>")
        rows = []
        for key, e in entries.items():
            after, before = e.get("latent") or {}, e.get("raw") or {}
            cells = "".join(f"<td class=num><b>{fmt(after.get(q))}</b></td><td class=num>{fmt(before.get(q))}</td>"
                            for q, _ in QUALITY)
            rows.append(f"<tr><th>{esc(key.replace('_', ' '))}</th><td class=num>{fmt(e.get('points'))}</td>"
                        f"<td class=num>{fmt(e.get('seconds'))}</td>{cells}</tr>")
        parts.append("<h3>Before (raw pixels) and after (latent codes)</h3>"
                     f'<div class="table-scroll"><table>{head}{"".join(rows)}</table></div>')
        notes = [f"{k.replace('_', ' ')}: {n}" for k, e in entries.items()
                 for n in ([e["subsample"]] if e.get("subsample") else []) + list(e.get("notes") or [])]
        notes += [str(n) for n in proj.get("notes") or []]
        if isinstance(proj.get("raw_baseline"), dict) and proj["raw_baseline"].get("note"):
            notes.append("before: " + str(proj["raw_baseline"]["note"]))
        if notes:
            parts.append("<details><summary>notes</summary><ul>"
                         + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul></details>")
    else:
        parts.append(render_any({k: v for k, v in proj.items() if "spectrum" not in k}, ctx["class_names"]))
    if isinstance(proj.get("timings"), dict) and proj["timings"]:
        parts.append(f"<details><summary>step timings</summary>{kv_table(proj['timings'])}</details>")
    parts.append(page.figures(figs))
    return "".join(parts)


def _pca_section(page: _Page, ctx: dict) -> str:
    figs = ctx["routed"]["pca"]
    proj = ctx["metrics"].get("projections") or {}
    parts = []
    for key, what in (("pca_spectrum", "latent codes"), ("raw_pca_spectrum", "raw pixels")):
        spec = proj.get(key)
        if isinstance(spec, dict) and spec:
            needs = {k: v for k, v in spec.items() if k.startswith("n_components_")}
            row = ", ".join(f"{esc(k.replace('n_components_', ''))} % of the variance: <b>{fmt(v)}</b> components"
                            for k, v in needs.items())
            n = len(spec.get("explained_variance_ratio") or [])
            parts.append(f"<p>{esc(what)} ({fmt(n)} components): {row}.</p>")
    if not parts and not figs:
        return ""
    parts.append(page.figures(figs))
    return "".join(parts)


def _generation_section(page: _Page, ctx: dict) -> str:
    body = _metrics_section(page, ctx, "generation", ["generation", "judge"])
    if body and not ctx["metrics"].get("judge"):
        cmd = f"latentatlas judge {ctx['run'].path}"
        body = (f'<p class="note">The independent judge did not grade these samples in this run; '
                f"<code>{esc(cmd)}</code> adds its fidelity and Frechet distances (it trains once per "
                "dataset, then is cached).</p>" + body)
    return body


def _timings_section(page: _Page, ctx: dict) -> str:
    every = {k: v for k, v in (ctx["metrics"].get("timings") or {}).items() if isinstance(v, (int, float))}
    # "stage" keys are the stages; "stage.part.step" keys are steps inside one (shown folded).
    timings = {k: v for k, v in every.items() if "." not in k}
    steps = {k: v for k, v in every.items() if "." in k}
    if not timings and not steps:
        return ""
    top = max(timings.values(), default=0) or 1.0
    rows = [f'<tr><th>{esc(k)}</th><td class="num">{fmt(float(v))} s</td>'
            f'<td><span class="bar" style="width:{max(2, int(240 * v / top))}px"></span></td></tr>'
            for k, v in timings.items()]
    rows.append(f'<tr class="total"><td>total</td><td class="num">{fmt(float(sum(timings.values())))} s</td><td></td></tr>')
    parts = [f"<p class=\"note\">Wall-clock seconds of each stage, as recorded in metrics.json.</p><table>{''.join(rows)}</table>"]
    if steps:
        step_rows = "".join(f'<tr><th>{esc(k)}</th><td class="num">{fmt(float(v))} s</td></tr>' for k, v in steps.items())
        parts.append(f"<details><summary>{len(steps)} steps inside the stages</summary><table>{step_rows}</table></details>")
    return "".join(parts)


# -- the page ----------------------------------------------------------------------------

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

    return (files("latentatlas") / "report" / "report.css").read_text(encoding="utf-8")


def render_report(run_dir, baseline=None) -> str:
    """The report's HTML text for a run directory (see the module docstring)."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if not run.path.is_dir():
        raise UserError(f"run directory {run.path} does not exist")
    if not run.is_run():
        raise UserError(f"{run.path} is not a latentatlas run (no config.json, metrics.json or model); "
                        "give the folder that `latentatlas run --out` wrote")
    metrics = run.read_metrics()
    config = _read_optional_json(run / CONFIG)
    state = _read_optional_json(run / RUN_STATE)
    figures = [(section, fig) for section, value in metrics.items() if isinstance(value, dict)
               for fig in (value.get("figures") or []) if isinstance(fig, dict)]
    class_names = ((metrics.get("data") or {}).get("class_names") or (metrics.get("encode") or {}).get("class_names")
                   or state.get("class_names") or [])
    history = _history(run)
    ctx = {"run": run, "metrics": metrics, "config": config, "state": state, "history": history,
           "lookup": dict(metrics, history=history),  # study figures may point into history.jsonl
           "routed": _route(figures), "class_names": [str(c) for c in class_names],
           "study": state.get("study") or config.get("study"), "baseline": baseline}
    page = _Page(run)
    builders = {
        "data": _data_section,
        "study": _study_section,
        "training": _training_section,
        "reconstructions": lambda p, c: p.figures(c["routed"]["reconstructions"]),
        "projections": _projections_section,
        "pca": _pca_section,
        "probes": lambda p, c: _metrics_section(p, c, "probes", ["probes"]),
        "clustering": lambda p, c: _metrics_section(p, c, "clustering", ["clustering"]),
        "generation": _generation_section,
        "walks": lambda p, c: _metrics_section(p, c, "walks", ["interpolation"]),
        "other": lambda p, c: p.figures(c["routed"]["other"]),
        "timings": _timings_section,
    }
    toc, body = [], []
    for key, title in SECTIONS:
        content = builders[key](page, ctx)
        if not content and key in ("study", "other"):
            continue  # optional sections: absent, not "did not run"
        skipped = not content
        if skipped:
            content = _not_run(key, run)
        toc.append(f'<li{" class=skipped" if skipped else ""}><a href="#{key}">{esc(title)}</a></li>')
        body.append(f'<section class="card{" skipped" if skipped else ""}" id="{key}"><h2>{esc(title)}</h2>'
                    f"{content}</section>")

    model = config.get("model") or {}
    data_cfg = config.get("data") or {}
    badges = [("dataset", data_cfg.get("name")), ("model", model.get("name") or model.get("kind")),
              ("latent size", model.get("latent_dim")), ("preset", state.get("preset")),
              ("epochs", (config.get("train") or {}).get("epochs"))]
    badge_html = "".join(f'<span class="badge">{esc(k)} <b>{fmt(v)}</b></span>' for k, v in badges if v is not None)
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
run's metrics.json.</div><div class="badges">{badge_html}</div></header>
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
    out = run / REPORT
    atomic_write_text(out, text)
    run.record_timing("report", time.perf_counter() - t0)
    return out
