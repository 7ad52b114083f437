"""The sweep's table: one row per trial, its settings and the headline figures of its run folder.

Every figure is read from the trial's metrics.json (through stages.compare.headline, the figures
`latentatlas compare` shows) or computed here from its latents.npz:

    active_dims     VAE: dimensions whose KL to the prior, averaged over the test images,
                    exceeds ACTIVE_KL nats (the others carry no information: posterior collapse)
    active_units    VAE: dimensions whose mean moves with the image, Cov_x(E_q[z_j | x]) > ACTIVE_KL
                    (Burda et al. 2016's activity: stricter early in training, when the KL is not
                    yet pushed to zero but the means already ignore the image)
    pca_90, pca_95  components of the PCA spectrum of the test codes holding 90 / 95 % of their variance
"""

from __future__ import annotations

import math

from ..rundir import RunDir
from ..stages.compare import headline
from .folder import SweepFolder

ACTIVE_KL = 0.01          # nats per image: below it a dimension is "inactive" (Burda et al. 2016 use 0.01)

# (key, column title, better): the figures the report plots and names a best trial for
FIGURES = [
    ("test_loss", "test loss", "lower"),
    ("test_mse", "test MSE", "lower"),
    ("test_bpd", "bits/dim", "lower"),
    ("probe_accuracy", "probe accuracy", "higher"),
    ("cluster_accuracy", "cluster ACC", "higher"),
    ("cluster_nmi", "cluster NMI", "higher"),
    ("fidelity", "sampling fidelity", "higher"),
    ("fd", "Frechet distance", "lower"),
    ("active_dims", "active dims (KL)", None),
    ("active_units", "active units (Cov mu)", None),
    ("pca_95", "PCA 95% dims", None),
    ("seconds", "seconds", "lower"),
]


def _num(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def latent_usage(run_dir) -> dict:
    """{"kl_per_dim": [...] (VAE), "active_dims", "pca_90", "pca_95"} from the test codes; {} without codes."""
    import numpy as np

    rd = RunDir(run_dir)
    try:
        lat = rd.read_latents()
    except Exception:          # no codes (training failed, encode skipped): nothing to measure
        return {}
    mu = np.asarray(lat["test_mean"], np.float64)
    out: dict = {}
    if "test_logvar" in lat:
        lv = np.asarray(lat["test_logvar"], np.float64)
        # KL(N(mu, s2) || N(0, 1)) per dimension, averaged over images (Kingma & Welling 2014, App. B)
        kl = 0.5 * np.mean(mu ** 2 + np.exp(lv) - lv - 1.0, axis=0)
        out["kl_per_dim"] = [float(v) for v in kl]
        out["active_dims"] = int(np.sum(kl > ACTIVE_KL))
        out["active_units"] = int(np.sum(np.var(mu, axis=0) > ACTIVE_KL))
    if len(mu) > 1:
        var = np.clip(np.linalg.eigvalsh(np.cov(mu, rowvar=False).reshape(mu.shape[1], mu.shape[1])), 0, None)[::-1]
        share = np.cumsum(var) / var.sum() if var.sum() > 0 else np.ones_like(var)
        out["pca_90"] = int(np.searchsorted(share, 0.90 - 1e-9) + 1)
        out["pca_95"] = int(np.searchsorted(share, 0.95 - 1e-9) + 1)
    return out


def trial_row(folder: SweepFolder, trial: dict) -> dict:
    """One row: the trial's name, settings, status and figures (None where a figure is absent)."""
    name = trial["name"]
    record = folder.read_record(name) or {}
    row = {"name": name, **trial["settings"], "status": record.get("status") or "not run",
           "error": record.get("error") or trial.get("error"), "note": record.get("note"),
           "seconds": _num(record.get("seconds")),
           "node": record.get("node"), "run_dir": str(folder.trial_dir(name))}
    run = RunDir(folder.trial_dir(name))
    if not run.is_run():
        return row
    head = headline(run.path)
    metrics = run.read_metrics()
    final = (metrics.get("train") or {}).get("final") or {}
    clusters = metrics.get("clustering") or {}
    best = head.get("clusterer")
    row.update({k: head.get(k) for k in ("model", "latent_dim", "test_loss", "test_mse", "probe_accuracy",
                                         "cluster_accuracy", "fidelity", "fd")})
    row.update(test_bpd=_num((metrics.get("train") or {}).get("test_bpd")),
               test_kl=_num(final.get("test_kl")), test_recon=_num(final.get("test_recon")),
               cluster_nmi=_num((clusters.get(best) or {}).get("nmi")) if best else None)
    row.update(latent_usage(run.path))
    row["has_report"] = (run.path / "report.html").is_file()
    return row


def sweep_rows(path) -> list[dict]:
    folder = SweepFolder(path)
    sweep = folder.read_sweep()
    return [trial_row(folder, t) for t in sweep.get("trials", [])]


def best_trial(rows: list[dict], key: str, better: str | None) -> dict | None:
    """The ok trial with the best figure (lowest or highest), None when no trial has it."""
    have = [r for r in rows if r.get("status") == "ok" and _num(r.get(key)) is not None]
    if not have or better is None:
        return None
    pick = min if better == "lower" else max
    return pick(have, key=lambda r: r[key])


def as_dataframe(rows: list[dict], swept: list[str]):
    """The table as a pandas DataFrame: one row per trial, the swept settings first."""
    import pandas as pd

    cols = ["name", *swept, "status", "error", "note", *[k for k, _, _ in FIGURES if k != "seconds"], "latent_dim",
            "test_kl", "test_recon", "pca_90", "seconds", "node", "run_dir"]
    seen, order = set(), []
    for c in cols:
        if c not in seen:
            seen.add(c)
            order.append(c)
    return pd.DataFrame([{c: r.get(c) for c in order} for r in rows], columns=order)
