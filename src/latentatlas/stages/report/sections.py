"""The report's sections: each builder takes the page and the run's context and returns its HTML.

ctx (built by `report.html.render_report` from the run folder, through RunDir):
    run, metrics, config, state, history, lookup (metrics + history, for the study's
    figure paths), placed (report section -> its figures), class_names, study, baseline
"""

from __future__ import annotations

import json
from pathlib import Path

from ...rundir import RunDir
from .layout import Page
from .tables import (DASH, esc, fmt, get_path, is_matrix, is_scalar, kv_table, label, matrix_table,
                     records_table, render_any)


def _unusable_files(bad: list) -> str:
    """The image folder's files that could not be used, each with its reason (all of them)."""
    if not bad:
        return ""
    rows = {b.get("path", "?"): {"reason": b.get("reason"), "detail": b.get("detail") or DASH} for b in bad}
    return (f'<h3>Files skipped: {len(bad)} could not be used</h3><p class="notice">These files in the image '
            "folder were left out of training and analysis (<code>--strict-images</code> refuses such a "
            "folder instead).</p>" + records_table(rows, ["reason", "detail"], "file"))


def data_section(page: Page, ctx: dict) -> str:
    metrics, config, state = ctx["metrics"], ctx["config"], ctx["state"]
    parts = []
    if state.get("data_note"):
        parts.append(f'<p class="notice">{esc(state["data_note"])}</p>')
    data = metrics.get("data") or {}
    if data:
        parts.append(kv_table({k: v for k, v in data.items()
                               if k not in ("note", "class_names", "original_labels", "unusable_files")}))
        parts.append(_unusable_files(data.get("unusable_files") or []))
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
    parts.append(page.figures(ctx["placed"]["data"]))
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
        other = RunDir(cand)
        metrics = other.read_metrics() if other.path.is_dir() else {}
        if metrics:
            return dict(metrics, history=other.read_history()), str(cand)
    return None, str(name or "default")


def study_section(page: Page, ctx: dict) -> str:
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


def _curves_uri(history: list[dict]) -> str | None:
    """Loss curves drawn from history.jsonl (when training listed no curve figure of its own),
    as a data URI; None when the rows hold no loss."""
    import base64

    from ...figures.canvas import png_bytes
    from ...figures.curves import loss_figure

    fig = loss_figure(history)
    if fig is None:
        return None
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig, dpi=110)).decode("ascii")


def training_section(page: Page, ctx: dict) -> str:
    train = ctx["metrics"].get("train") or {}
    history = ctx["history"]
    figs = ctx["placed"]["training"]
    if not train and not history and not figs:
        return ""
    parts = [kv_table(train)]
    for key, value in train.items():
        if isinstance(value, dict) and value and all(is_scalar(v) for v in value.values()):
            parts.append(f"<h4>{label(key)}</h4>{kv_table(value)}")
    has_curves = any(any(w in f"{f.get('path', '')} {f.get('title', '')}".lower() for w in ("curve", "loss"))
                     for f in figs)
    if history and not has_curves:
        uri = _curves_uri(history)
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


def metrics_section(page: Page, ctx: dict, key: str, sections: list[str]) -> str:
    """A section made of metrics.json sections rendered as tables, then its figures."""
    parts = []
    for name in sections:
        value = ctx["metrics"].get(name)
        if value:
            if len(sections) > 1:
                parts.append(f"<h3>{label(name)}</h3>")
            parts.append(render_any(value, ctx["class_names"]))
    figs = ctx["placed"][key]
    if not parts and not figs:
        return ""
    parts.append(page.figures(figs))
    return "".join(parts)


QUALITY = (("knn_accuracy", "kNN accuracy"), ("silhouette", "silhouette"), ("trustworthiness", "trustworthiness"))


def projections_section(page: Page, ctx: dict) -> str:
    """Before (raw pixels) and after (codes), side by side for every projection that has both."""
    proj = ctx["metrics"].get("projections") or {}
    figs = ctx["placed"]["projections"]
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
        # Which library computed each projection (metrics.json "backend"; runs analysed before it have none).
        with_backend = any(e.get("backend") for e in entries.values())
        head = ("<tr><th>projection</th>" + ("<th>computed by</th>" if with_backend else "")
                + "<th class=num>points</th><th class=num>seconds</th>"
                + "".join(f"<th class=num>{esc(title)} after</th><th class=num>before</th>" for _, title in QUALITY)
                + "</tr>")
        rows = []
        for key, e in entries.items():
            after, before = e.get("latent") or {}, e.get("raw") or {}
            cells = "".join(f"<td class=num><b>{fmt(after.get(q))}</b></td><td class=num>{fmt(before.get(q))}</td>"
                            for q, _ in QUALITY)
            by = f"<td>{esc(e.get('backend') or '')}</td>" if with_backend else ""
            rows.append(f"<tr><th>{esc(key.replace('_', ' '))}</th>{by}<td class=num>{fmt(e.get('points'))}</td>"
                        f"<td class=num>{fmt(e.get('seconds'))}</td>{cells}</tr>")
        parts.append("<h3>Before (raw pixels) and after (latent codes)</h3>"
                     f'<div class="table-scroll"><table>{head}{"".join(rows)}</table></div>')
        notes = [f"{k.replace('_', ' ')}: {n}" for k, e in entries.items()
                 for n in ([e["subsample"]] if e.get("subsample") else []) + list(e.get("notes") or [])]
        notes += [str(n) for n in proj.get("notes") or []]
        if proj.get("knn_graph_backend"):
            notes.append(f"shared kNN graph: {proj['knn_graph_backend']}")
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


def pca_section(page: Page, ctx: dict) -> str:
    figs = ctx["placed"]["pca"]
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


def _judge_line(judge: dict) -> str:
    """How good the judge is, before any fidelity it gives: or why there is none."""
    about = judge.get("judge") if isinstance(judge.get("judge"), dict) else {}
    if about.get("graded") is False:
        return f'<p class="notice">No judge: {esc(about.get("reason"))}.</p>'
    if "test_accuracy" not in about:
        return ""
    epochs = about.get("epochs")
    cost = [f"{fmt(epochs)} epoch{'' if epochs == 1 else 's'}" if epochs else "",
            f"{fmt(about.get('train_seconds'))} s" if about.get("train_seconds") else "",
            f"{about['share_of_model_training']:.0%} of the model's training time"
            if isinstance(about.get("share_of_model_training"), (int, float)) else "",
            "from the cache" if about.get("cached") else ""]
    cost = ", ".join(c for c in cost if c)
    verdict = f"; {esc(about['verdict'])}" if about.get("verdict") else ""
    return (f'<p class="notice">The judge (a pixel classifier of this dataset{", " + esc(cost) if cost else ""}) '
            f"has test accuracy <b>{fmt(about['test_accuracy'])}</b> on real images{verdict}.</p>")


def generation_section(page: Page, ctx: dict) -> str:
    body = metrics_section(page, ctx, "generation", ["generation", "judge"])
    judge = ctx["metrics"].get("judge") or {}
    if body and judge:
        body = _judge_line(judge) + body
    if body and not judge:
        cmd = f"latentatlas judge {ctx['run'].path}"
        body = (f'<p class="note">The independent judge did not grade these samples in this run; '
                f"<code>{esc(cmd)}</code> adds its fidelity and Frechet distances (it trains once per "
                "dataset, then is cached).</p>" + body)
    return body


def timings_section(page: Page, ctx: dict) -> str:
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


def probes_section(page: Page, ctx: dict) -> str:
    """The probes' tables and figures, led by what the codes carry of the class and of each
    factor of variation (mnist-color's hue) when the analysis measured it."""
    body = metrics_section(page, ctx, "probes", ["probes"])
    probes = ctx["metrics"].get("probes") or {}
    body = _against_baseline(probes) + body
    factors = probes.get("factors")
    if not body or not isinstance(factors, dict):
        return body
    from ...estimators.factors import sentence

    line = sentence(factors)
    note = f' <span class="note">{esc(factors["note"])}</span>' if factors.get("note") else ""
    return (f"<p>What the codes carry: <b>{esc(line)}</b> (probes trained on the training codes, scored on "
            f"the test codes; R<sup>2</sup> 1 = predicted exactly, 0 = no better than the mean).{note}</p>"
            if line or note else "") + body


def _against_baseline(section: dict) -> str:
    """One line: each method's accuracy beside its balanced accuracy and macro F1, and the
    majority-class baseline they must beat (on imbalanced classes accuracy alone flatters)."""
    base = section.get("majority_baseline")
    methods = {k: v for k, v in section.items() if isinstance(v, dict) and "balanced_accuracy" in v
               and k != "majority_baseline"}
    if not isinstance(base, dict) or not methods:
        return ""
    shown = "; ".join(f"{esc(k)}: accuracy {fmt(v['accuracy'])}, balanced accuracy {fmt(v['balanced_accuracy'])}"
                      + (f", macro F1 {fmt(v['f1'])}" if "f1" in v else "") for k, v in methods.items())
    return (f'<p class="notice">Against the majority-class baseline (every image called '
            f'<b>{esc(base.get("class"))}</b>: accuracy {fmt(base.get("accuracy"))}, balanced accuracy '
            f'{fmt(base.get("balanced_accuracy"))}): {shown}. Balanced accuracy is the mean recall over classes, '
            f"so it is not raised by the largest class alone.</p>")


def clustering_section(page: Page, ctx: dict) -> str:
    body = metrics_section(page, ctx, "clustering", ["clustering"])
    clustering = ctx["metrics"].get("clustering") or {}
    methods = {k: v for k, v in clustering.items() if isinstance(v, dict) and "majority_baseline" in v}
    if methods:       # the same baseline for every clusterer of the same points
        clustering = {**methods, "majority_baseline": next(iter(methods.values()))["majority_baseline"]}
    return _against_baseline(clustering) + body


def figures_only(key: str):
    """A section that is only its figures (reconstructions, other)."""
    return lambda page, ctx: page.figures(ctx["placed"][key])


# report section -> its builder (the order is layout.SECTIONS).
BUILDERS = {
    "data": data_section,
    "study": study_section,
    "training": training_section,
    "reconstructions": figures_only("reconstructions"),
    "projections": projections_section,
    "pca": pca_section,
    "probes": probes_section,
    "clustering": clustering_section,
    "generation": generation_section,
    "walks": lambda p, c: metrics_section(p, c, "walks", ["interpolation"]),
    "other": figures_only("other"),
    "timings": timings_section,
}
