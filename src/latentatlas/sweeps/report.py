"""sweep.html: one self-contained page over every trial of a sweep (images as data URIs, no script
from anywhere else), laid out like a run's report.html and written atomically.

    write_sweep_report(sweep_dir) -> Path

Sections: the best trial per figure; the table of trials (settings, figures, failures with their
error, links to each trial's report.html); each headline figure against each swept setting with
the spread over seeds; the rate-distortion plane (VAEs); active dimensions against latent size;
small multiples of every trial's 2-D map. Every number comes from the trials' run folders.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from urllib.parse import quote

from .. import __version__
from ..rundir import RunDir, atomic_write_text
from ..stages.report.tables import esc, fmt
from .folder import SWEEP_REPORT, TRIALS_DIR, SweepFolder
from .grid import SEED_KEY
from .summary import ACTIVE_KL, FIGURES, best_trial, sweep_rows

MAP_POINTS = 1500          # points per small map: enough to see the classes, small enough for one page
MAP_VIEWS = ("umap", "tsne", "pca", "lda")   # the view the small multiples use, the first most trials have

_PROBE = """<script>
window.__latentatlasErrors = [];
window.addEventListener("error", function (e) { window.__latentatlasErrors.push(String(e.message || e)); });
window.addEventListener("load", function () {
  document.documentElement.setAttribute("data-images", String(document.querySelectorAll("img").length));
  document.documentElement.setAttribute("data-script-errors", String(window.__latentatlasErrors.length));
});
</script>"""


def _css() -> str:
    from importlib.resources import files

    return (files("latentatlas") / "stages" / "report" / "report.css").read_text(encoding="utf-8")


def _img(png: bytes, alt: str, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<img{klass} alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _link(row: dict) -> str:
    name = esc(row["name"])
    if row.get("has_report"):
        return f'<a href="{TRIALS_DIR}/{quote(row["name"])}/report.html">{name}</a>'
    return name


def _present(rows: list[dict]) -> list[tuple[str, str, str | None]]:
    return [(k, t, b) for k, t, b in FIGURES if any(r.get(k) is not None for r in rows)]


def _best_section(rows: list[dict]) -> str:
    items = []
    for key, title, better in _present(rows):
        best = best_trial(rows, key, better)
        if best is not None:
            items.append(f"<tr><th>{esc(title)} ({better})</th><td>{_link(best)}</td>"
                         f'<td class="num">{fmt(best[key])}</td></tr>')
    if not items:
        return '<p class="note">No trial finished with figures yet.</p>'
    return f'<table class="kv best">{"".join(items)}</table>'


def _table_section(rows: list[dict], swept: list[str]) -> str:
    figures = _present(rows)
    extra = [("latent_dim", "latent"), ("test_kl", "test KL"), ("test_recon", "test recon"), ("pca_90", "PCA 90%")]
    extra = [(k, t) for k, t in extra if any(r.get(k) is not None for r in rows)]
    head = ("<tr><th>trial</th>" + "".join(f"<th>{esc(k)}</th>" for k in swept) + "<th>status</th>"
            + "".join(f'<th class="num">{esc(t)}</th>' for _, t, _ in figures)
            + "".join(f'<th class="num">{esc(t)}</th>' for _, t in extra) + "</tr>")
    body = []
    for r in rows:
        cells = "".join(f"<td>{fmt(r.get(k))}</td>" for k in swept)
        if r["status"] in ("failed", "stopped"):   # its error or note across the figures it has none of
            span, kind = max(1, len(figures) + len(extra)), r["status"]
            text = r.get("error") if kind == "failed" else r.get("note")
            label = "failed" if kind == "failed" else "stopped early"
            body.append(f'<tr class="{kind}-row"><td>{_link(r)}</td>{cells}<td><span class="{kind}">{label}</span>'
                        f'</td><td colspan="{span}" class="{"error" if kind == "failed" else "note"}">'
                        f'{esc(text or "")}</td></tr>')
            continue
        nums = "".join(f'<td class="num">{fmt(r.get(k))}</td>' for k, _, _ in figures)
        nums += "".join(f'<td class="num">{fmt(r.get(k))}</td>' for k, _ in extra)
        body.append(f"<tr><td>{_link(r)}</td>{cells}<td>{esc(r['status'])}</td>{nums}</tr>")
    note = (f'<p class="note">active dims: dimensions whose KL to the prior exceeds {ACTIVE_KL:g} nats per image on '
            f"the test images; active units: dimensions whose mean varies over them by more than {ACTIVE_KL:g} (VAEs); PCA 90/95 %: components of the test codes' spectrum holding that share of "
            "their variance; probe / cluster: the best method of each trial (its report names it).</p>")
    return f'<div class="table-scroll"><table class="trials">{head}{"".join(body)}</table></div>{note}'


def _lines(rows: list[dict], setting: str, key: str, others: list[str]) -> list:
    """[(label, [(x, [values over seeds])])]: one line per value of the other swept settings."""
    groups: dict = {}
    for r in rows:
        if r.get("status") != "ok" or r.get(key) is None or r.get(setting) is None:
            continue
        label = ", ".join(f"{o.split('.')[-1]}={r.get(o)}" for o in others)
        groups.setdefault(label, {}).setdefault(r[setting], []).append(float(r[key]))
    return [(label, list(points.items())) for label, points in groups.items()]


def _against_section(rows: list[dict], swept: list[str]) -> str:
    from ..figures.sweep import against_setting

    settings = [k for k in swept if k != SEED_KEY]
    parts = []
    for setting in settings:
        if len({str(r.get(setting)) for r in rows if r.get("status") == "ok"}) < 2:
            continue                      # one value left among the finished trials: nothing to plot against
        others = [o for o in settings if o != setting]
        panels = [(title, lines) for key, title, _ in _present(rows)
                  if (lines := _lines(rows, setting, key, others))]
        if panels:
            parts.append(f"<h3>against {esc(setting)}</h3>"
                         + _img(against_setting(setting, panels), f"headline figures against {setting}", "plot"))
    if not parts:
        return ""
    seeds = "; dots: each seed, line: their mean, band: lowest to highest seed" if SEED_KEY in swept else ""
    return "".join(parts) + f'<p class="note">One panel per headline figure{seeds}.</p>'


def _rate_distortion_section(rows: list[dict], swept: list[str]) -> str:
    from ..figures.sweep import rate_distortion

    points = [r for r in rows if r.get("status") == "ok" and r.get("test_kl") is not None
              and r.get("test_recon") is not None]
    if not points:
        return ""
    # coloured by the first swept setting that differs among these trials (model.name may be "vae" for all)
    colour_by = next((k for k in swept if k != SEED_KEY and len({str(r.get(k)) for r in points}) > 1), "name")
    png = rate_distortion([(r["test_kl"], r["test_recon"], r.get(colour_by), r["name"]) for r in points], colour_by)
    return (_img(png, "rate-distortion plane", "plot")
            + '<p class="note">Each VAE trial at its final epoch: the KL term (rate, unweighted by beta) against '
              "the reconstruction term (distortion) on the test images. Lower-left is better; beta moves a "
              "model along the curve.</p>")


def _active_section(rows: list[dict]) -> str:
    from ..figures.sweep import active_dimensions

    have = [(int(r["latent_dim"]), r.get("active_dims"), r.get("pca_90"), r.get("pca_95"), r.get("active_units"))
            for r in rows
            if r.get("status") == "ok" and r.get("latent_dim") is not None]
    if len({h[0] for h in have}) < 2:
        return ""                      # one latent size: the panels against the swept settings show it
    return (_img(active_dimensions(have, ACTIVE_KL), "active dimensions against latent size", "plot")
            + f'<p class="note">Per trial: dimensions whose KL exceeds {ACTIVE_KL:g} nats and those whose mean '
              f"varies over the images by more than {ACTIVE_KL:g} (active units; VAEs), and the "
              "components of the PCA spectrum of the test codes that hold 90 and 95 % of their variance. "
              "Points below the dotted line are dimensions the model has but does not use.</p>")


def _trial_map(run_dir: Path, view: str):
    import numpy as np

    rd = RunDir(run_dir)
    maps = rd.read_maps()
    if f"xy_{view}" not in maps:
        return None
    lat = rd.read_latents()
    labels = np.concatenate([lat["train_labels"], lat["test_labels"]])
    xy, idx = maps[f"xy_{view}"], maps[f"idx_{view}"]
    keep = np.random.default_rng(0).permutation(len(xy))[:MAP_POINTS]
    return xy[keep], labels[idx[keep]], [str(c) for c in lat["class_names"]]


def _maps_section(rows: list[dict]) -> str:
    from ..figures.sweep import map_multiples

    ok = [r for r in rows if r.get("status") == "ok"]
    keys = {r["name"]: set(RunDir(r["run_dir"]).read_maps()) for r in ok}      # each maps.npz read once here
    views = {v: [r for r in ok if f"xy_{v}" in keys[r["name"]]] for v in MAP_VIEWS}
    view = max(MAP_VIEWS, key=lambda v: (len(views[v]), -MAP_VIEWS.index(v)))
    maps, names = [], []
    for r in views[view]:
        made = _trial_map(Path(r["run_dir"]), view)
        if made:
            maps.append((r["name"], made[0], made[1]))
            names = names or made[2]
    if not maps:
        return ""
    return (_img(map_multiples(maps, names, view.upper()), "small multiples of the trials' 2-D maps", "plot")
            + f'<p class="note">The {esc(view.upper())} map of each trial ({MAP_POINTS:,} seeded points of its codes), '
              "classes in the same colours throughout.</p>")


def render_sweep_report(path) -> str:
    folder = SweepFolder(path)
    sweep = folder.read_sweep()
    rows = sweep_rows(folder.path)
    swept = list(sweep.get("grid") or {}) + ([SEED_KEY] if (sweep.get("seeds") or 1) > 1 else [])
    sections = [("best", "Best trial per figure", _best_section(rows)),
                ("trials", "Trials", _table_section(rows, swept)),
                ("against", "Figures against each setting", _against_section(rows, swept)),
                ("rate-distortion", "Rate and distortion (VAEs)", _rate_distortion_section(rows, swept)),
                ("active", "Active dimensions against latent size", _active_section(rows)),
                ("maps", "Every trial's 2-D map", _maps_section(rows))]
    sections = [s for s in sections if s[2]]
    toc = "".join(f'<li><a href="#{k}">{esc(t)}</a></li>' for k, t, _ in sections)
    body = "".join(f'<section class="card" id="{k}"><h2>{esc(t)}</h2>{c}</section>' for k, t, c in sections)
    n_ok = sum(r["status"] == "ok" for r in rows)
    n_failed = sum(r["status"] == "failed" for r in rows)
    n_stopped = sum(r["status"] == "stopped" for r in rows) or None     # its badge only with a scheduler
    grid = "; ".join(f"{k} = {', '.join(map(str, v))}" for k, v in (sweep.get("grid") or {}).items())
    badges = [("trials", len(rows)), ("ok", n_ok), ("failed", n_failed), ("stopped early", n_stopped),
              ("scheduler", sweep.get("scheduler")), ("seeds", sweep.get("seeds")),
              ("base preset", sweep.get("preset"))]
    badge_html = "".join(f'<span class="badge">{esc(k)} <b>{fmt(v)}</b></span>' for k, v in badges if v is not None)
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="latentatlas {esc(__version__)}">
<title>latentatlas sweep: {esc(folder.path.name)}</title>
{_PROBE}
<style>
{_css()}
img.plot {{ max-width: 100%; }}
tr.failed-row td {{ background: #fff4f2; }}
span.failed {{ color: #b3261e; font-weight: 600; }}
tr.stopped-row td {{ background: #f6f6f0; }}
span.stopped {{ color: #6b5d00; font-weight: 600; }}
td.error {{ font-family: ui-monospace, monospace; font-size: 0.85em; }}
</style>
</head>
<body>
<nav class="toc"><div class="brand">latentatlas sweep</div><div class="run">{esc(folder.path.resolve())}</div>
<ol>{toc}</ol></nav>
<main>
<header class="top"><h1>{esc(folder.path.name)}</h1>
<div class="sub">Sweep report, written {esc(generated)}: grid {esc(grid)}. Every number below is read from the
trials' run folders (<code>{TRIALS_DIR}/&lt;name&gt;/</code>, each with its own report).</div>
<div class="badges">{badge_html}</div></header>
{body}
<footer>latentatlas {esc(__version__)} &middot; self-contained: images embedded.</footer>
</main>
</body>
</html>
"""


def write_sweep_report(path) -> Path:
    """Write DIR/sweep.html atomically and return its path."""
    folder = SweepFolder(path)
    out = folder.path / SWEEP_REPORT
    atomic_write_text(out, render_sweep_report(folder.path))
    return out
