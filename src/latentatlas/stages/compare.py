"""Headline figures of several runs side by side (`latentatlas compare RUN_DIR...`).

    rows = [headline(d) for d in run_dirs]
    print(format_table(rows, "text" | "markdown" | "html"))

Every figure is read from a run's metrics.json (and config.json for what the run
was asked to be); a figure a run does not have shows as an em dash.
"""

from __future__ import annotations

import html
from typing import Any

from ..errors import UserError
from ..rundir import RunDir

DASH = "\u2014"

# (key, column title) in display order
COLUMNS = [
    ("run", "run"),
    ("dataset", "dataset"),
    ("model", "model"),
    ("latent_dim", "latent"),
    ("epochs", "epochs"),
    ("train_seconds", "train s"),
    ("test_loss", "test loss"),
    ("test_mse", "test MSE"),
    ("probe_accuracy", "probe acc"),
    ("cluster_accuracy", "cluster acc"),
    ("fidelity", "fidelity"),
    ("fd", "FD"),
]

ACCURACY_KEYS = ("accuracy", "acc", "cluster_accuracy", "test_accuracy")


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def best_of(section: Any, keys=ACCURACY_KEYS) -> tuple[float | None, str | None]:
    """Highest number stored under one of `keys` in a section's methods ({name: {...}})."""
    if not isinstance(section, dict):
        return None, None
    best: tuple[float | None, str | None] = (None, None)
    candidates = []
    for name, value in section.items():
        if name == "figures" or not isinstance(value, dict):
            continue
        candidates.append((name, value))
        for sub, inner in value.items():  # one level deeper: {"latent": {"svm": {...}}}
            if isinstance(inner, dict):
                candidates.append((f"{name}.{sub}", inner))
    for name, value in candidates:
        for key in keys:
            v = _num(value.get(key))
            if v is not None and (best[0] is None or v > best[0]):
                best = (v, name)
                break
    return best


def _sampler_figures(judge: dict) -> tuple[float | None, float | None, str | None]:
    """(class-conditional fidelity, lowest Frechet distance, the sampler that has it)."""
    samplers = judge.get("samplers") if isinstance(judge, dict) else None
    if not isinstance(samplers, dict):
        return None, None, None
    fidelity = None
    for name in ("class-gaussian", "class_gaussian"):
        if isinstance(samplers.get(name), dict):
            fidelity = _num(samplers[name].get("fidelity"))
    if fidelity is None:
        fids = [_num(s.get("fidelity")) for s in samplers.values() if isinstance(s, dict)]
        fids = [f for f in fids if f is not None]
        fidelity = max(fids) if fids else None
    fds = [(_num(s.get("fd")), name) for name, s in samplers.items() if isinstance(s, dict)]
    fds = [(v, n) for v, n in fds if v is not None]
    if not fds:
        return fidelity, None, None
    v, n = min(fds)
    return fidelity, v, n


def headline(run_dir) -> dict:
    """The headline figures of one run, each None where the run does not have it."""
    run = RunDir(run_dir)
    if not run.is_run():
        raise UserError(f"{run.path} is not a latentatlas run (no config.json or metrics.json); "
                        "give folders written by `latentatlas run`")
    m = run.read_metrics()
    cfg = run.read_config()
    train = m.get("train") or {}
    model_cfg = cfg.get("model") or {}
    probe, probe_name = best_of(m.get("probes"))
    cluster, cluster_name = best_of(m.get("clustering"))
    fidelity, fd, fd_name = _sampler_figures(m.get("judge") or {})
    return {
        "run": run.path.name,
        "dataset": (cfg.get("data") or {}).get("name") or (m.get("encode") or {}).get("dataset"),
        "model": train.get("model") or model_cfg.get("name"),
        "latent_dim": train.get("latent_dim") or model_cfg.get("latent_dim"),
        "epochs": train.get("epochs"),
        "train_seconds": _num(train.get("seconds")),
        "test_loss": _num(train.get("test_loss")),
        "test_mse": _num(train.get("test_mse")),
        "probe_accuracy": probe, "probe": probe_name,
        "cluster_accuracy": cluster, "clusterer": cluster_name,
        "fidelity": fidelity,
        "fd": fd, "fd_sampler": fd_name,
    }


def _cell(key: str, value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, float):
        if key in ("train_seconds",):
            return f"{value:.1f}"
        if key in ("test_loss", "fd"):
            return f"{value:.2f}"
        return f"{value:.4f}"
    return str(value)


def table_cells(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    titles = [t for _, t in COLUMNS]
    body = []
    for r in rows:
        cells = [_cell(k, r.get(k)) for k, _ in COLUMNS]
        body.append(cells)
    return titles, body


def format_table(rows: list[dict], fmt: str = "text") -> str:
    titles, body = table_cells(rows)
    notes = _notes(rows)
    if fmt == "markdown":
        lines = ["| " + " | ".join(titles) + " |", "|" + "|".join("---" if i < 3 else "---:" for i in range(len(titles))) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in body]
        return "\n".join(lines + ([""] + notes if notes else []))
    if fmt == "html":
        head = "".join(f"<th>{html.escape(t)}</th>" for t in titles)
        trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>" for cells in body)
        foot = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
        return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{trs}</tbody>\n</table>{foot}"
    if fmt != "text":
        raise UserError(f"unknown format {fmt!r}; use text, markdown or html")
    widths = [max(len(t), *(len(c[i]) for c in body)) if body else len(t) for i, t in enumerate(titles)]
    def line(cells):
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    out = [line(titles), "  ".join("-" * w for w in widths)] + [line(c) for c in body]
    return "\n".join(out + ([""] + notes if notes else []))


def _notes(rows: list[dict]) -> list[str]:
    """Which method each 'best of' figure came from, so the table is not ambiguous."""
    notes = []
    for r in rows:
        parts = []
        if r.get("probe"):
            parts.append(f"probe acc = {r['probe']}")
        if r.get("clusterer"):
            parts.append(f"cluster acc = {r['clusterer']}")
        if r.get("fd_sampler"):
            parts.append(f"FD = {r['fd_sampler']} (lowest)")
        if parts:
            notes.append(f"{r['run']}: " + ", ".join(parts))
    if any(r.get("fidelity") is not None for r in rows):
        notes.append("fidelity: share of class-conditional samples the judge labels as their class")
    return notes


def compare_runs(run_dirs: list) -> list[dict]:
    if not run_dirs:
        raise UserError("give at least one run directory to compare")
    return [headline(d) for d in run_dirs]
