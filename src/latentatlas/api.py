"""The Python entry point: one import, the same setting names as the CLI and the config files.

    import latentatlas as la
    run = la.train(dataset="mnist", model="vae", latent_dim=10, epochs=5, out="runs/vae")
    run.encode().analyze(projections="pca:2,umap:2", probes="svm").sample(judge=False).report()
    run.metrics["probes"], run.codes("test"), run.figure("train_loss")     # shown inline
    run = la.open_run("runs/vae")                                          # an existing run
    run = la.run(preset="demo", out="runs/demo")                           # `latentatlas run`

Keyword names are the settings' field names (latent_dim, epochs, projections, ...) or the
spelling of their `latentatlas run` option with _ for - (dataset, model, analysis_seed,
generate_seed, components, ...); a name is routed to its stage's section. Where two stages
share a field name the option's spelling decides (seed is training's, as --seed is). preset=
and config= start from a preset or a TOML/JSON file, as on the command line; an unknown name
raises latentatlas.UserError in one line. Lists may be given as the CLI's comma-separated text.

This is a thin layer: each method calls the stage's own function (train_run, encode_run,
analyze_run, generate_run, write_report) on the run folder, which stays the only state.
"""

from __future__ import annotations

import difflib
import html
from dataclasses import fields
from pathlib import Path

from .errors import UserError

__all__ = ["Run", "train", "run", "sweep", "open_run", "Figure"]


# ----------------------------------------------------------------------------- settings by name
def _spellings(sections, own: bool = False) -> dict[str, tuple[str, str]]:
    """keyword -> (section, field): option spellings (unique, as argparse needs them), then field
    names that only one of the sections has."""
    from .settings import SECTION_CLASSES
    from .settings.options import flag_of

    out: dict[str, tuple[str, str]] = {}
    for section in sections:
        for f in fields(SECTION_CLASSES[section]):
            # --no-raw and the like mean the opposite of their field: only the field name is a keyword
            if f.metadata.get("cli") and f.metadata.get("action") not in ("store_true", "store_false"):
                flags = [flag_of(f, own)] + [a for a in f.metadata.get("aliases", ()) if a.startswith("--")]
                for flag in flags:
                    out.setdefault(flag.lstrip("-").replace("-", "_"), (section, f.name))
    counts: dict[str, list[str]] = {}
    for section in sections:
        for f in fields(SECTION_CLASSES[section]):
            counts.setdefault(f.name, []).append(section)
    for name, where in counts.items():
        if name not in out and len(where) == 1:
            out[name] = (where[0], name)
    return out


def _coerce(section: str, name: str, value):
    """The CLI's text forms in Python too: "pca:2,umap:2" for a list, 1 for the class "1"."""
    from .settings import SECTION_CLASSES

    f = next(f for f in fields(SECTION_CLASSES[section]) if f.name == name)
    listy = "list" in str(f.type)
    if isinstance(value, str) and listy:
        parse = f.metadata.get("parse")
        return parse(value) if parse and not f.metadata.get("nargs") else [value]
    if listy and "list[str]" in str(f.type) and isinstance(value, (list, tuple)):
        return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    return value


def settings_tables(settings: dict, sections, own: bool = False) -> dict[str, dict]:
    """{keyword: value} -> {section: {field: value}}; UserError (one line) for an unknown keyword."""
    names = _spellings(sections, own)
    out: dict[str, dict] = {}
    for key, value in settings.items():
        if key not in names:
            raise UserError(_unknown(key, names, sections))
        section, field = names[key]
        out.setdefault(section, {})[field] = _coerce(section, field, value)
    return out


def _unknown(key: str, names: dict, sections) -> str:
    shared = sorted(k for k, (s, f) in names.items() if f == key and k != key)
    if shared:
        return f"setting {key!r} belongs to several stages; say which: {', '.join(shared)}"
    close = difflib.get_close_matches(key, list(names), n=1)
    if close:
        return f"unknown setting {key!r} (did you mean {close[0]!r}?)"
    return (f"unknown setting {key!r}; the settings of {', '.join(sections)} are the options of "
            "`latentatlas run --help`, with _ for -")


def _config(settings: dict, preset, config, sections, extra_tables=()):
    """RunConfig from the preset or config file, then the run's own tables, then `settings`
    (settings.resolve_settings, the resolve the CLI uses)."""
    from .settings import resolve_settings

    if preset and config:
        raise UserError("give preset= or config=, not both")
    return resolve_settings(preset, config, *extra_tables, settings_tables(settings, sections), source="settings")


# ----------------------------------------------------------------------------- entry points
def train(*, out=None, preset: str | None = None, config=None, resume: bool = False, overwrite: bool = False,
          **settings) -> "Run":
    """Train a model into `out` (default runs/<preset or dataset-model>) and return its Run.

    settings: any setting by name (dataset="mnist", model="vae", latent_dim=10, epochs=5, ...).
    Analysis and generation settings given here (or by the preset) are kept in the run's
    config.json, so run.analyze() and run.sample() follow them, as `latentatlas run` does.
    resume: continue the stopped training in `out`; overwrite: train an existing run again.
    """
    from .rundir import RunDir
    from .settings import SECTIONS
    from .stages.train import train_run

    extra = [RunDir(out).read_config()] if resume and out else []
    cfg = _config(settings, preset, config, SECTIONS, extra)
    if out is None:
        name = preset or f"{cfg.data.name}-{cfg.model.name}"
        out = f"runs/{name.replace(':', '-').replace('/', '-')}"
    train_run(out, cfg.data, cfg.model, cfg.train, resume=resume, overwrite=overwrite)
    tables = cfg.to_dict()
    RunDir(out).update_config({k: tables[k] for k in ("analysis", "generate", "study") if k in tables})
    return Run(out)


def run(*, out=None, preset: str | None = None, config=None, force: bool = False, skip=(), baseline=None,
        quiet: bool = False, **settings) -> "Run":
    """`latentatlas run`: train, encode, analyse, generate and report into `out`; stages already
    done with the same settings are reused (force=True runs them again)."""
    from .pipeline import run_pipeline
    from .settings import DEFAULT_PRESET, SECTIONS

    chosen = preset or (None if config else DEFAULT_PRESET)
    cfg = _config(settings, chosen, config, SECTIONS)
    dataset_given = "dataset" in settings or "name" in settings or bool(config)
    out = out or f"runs/{preset or 'run'}"
    run_pipeline(out, cfg, preset=chosen, force=force, sample_fallback=not dataset_given and preset in (None, "demo"),
                 baseline=baseline, skip=tuple(skip), quiet=quiet)
    return Run(out)


def sweep(*, grid: dict | None = None, seeds: int | None = None, out=None, preset: str | None = None, config=None,
          cpus_per_trial: float | None = None, gpus_per_trial: float | None = None, address: str | None = None,
          retry_failed: bool = False, search: str | None = None, trials: int = 0, scheduler: str | None = None,
          quiet: bool = False, **settings):
    """`latentatlas sweep`: one run per point of `grid` ({"model.latent_dim": [2, 4, 8]}, keys as
    SECTION.FIELD or a field name one stage has) and per seed, on Ray Tune; `settings` apply to
    every trial; search="optuna", trials=N lets Optuna pick N points; scheduler="asha" stops the
    worse trials early on their test loss per epoch. Returns the table as a pandas DataFrame, one row per trial, its column "run" the
    trial as a Run (None where it has no run folder); .attrs["sweep_dir"] and ["report"]."""
    from .settings import SECTIONS
    from .sweeps import run_sweep, sweep_source, sweep_spec
    from .sweeps.summary import as_dataframe, sweep_rows

    source = sweep_source(preset, config)
    spec = sweep_spec(source.sweep.get("grid"), seeds or source.sweep.get("seeds", 1), extra_grid=grid)
    name = preset or "run"
    out = out or (f"runs/{name}" if name.startswith("sweep") else f"runs/sweep-{name}")
    summary = run_sweep(out, spec, preset=source.preset,
                        tables=[*source.tables, settings_tables(settings, SECTIONS)],
                        cpus_per_trial=float(cpus_per_trial or source.sweep.get("cpus_per_trial", 1)),
                        gpus_per_trial=float(gpus_per_trial or source.sweep.get("gpus_per_trial", 0)),
                        address=address, retry_failed=retry_failed, search=search, samples=trials,
                        scheduler=scheduler, quiet=quiet)
    rows = sweep_rows(out)
    table = as_dataframe(rows, list(spec.grid) + (["train.seed"] if spec.seeds > 1 else []))
    table["run"] = [Run(r["run_dir"]) if r.get("model") is not None else None for r in rows]
    table.attrs.update(sweep_dir=summary["sweep_dir"], report=summary["report"])
    return table


def open_run(path) -> "Run":
    """A run folder written before (by the CLI or by this API)."""
    from .rundir import RunDir

    rd = RunDir(path)
    if not rd.path.is_dir():
        raise UserError(f"run directory {rd.path} does not exist")
    if not rd.is_run():
        raise UserError(f"{rd.path} is not a latentatlas run (no config.json, metrics.json or model)")
    return Run(path)


# ----------------------------------------------------------------------------- a run
class Run:
    """One run folder. Stage methods return the Run (so they chain); results are in .metrics."""

    def __init__(self, path):
        from .rundir import RunDir

        self.path = Path(path)
        self._rd = RunDir(self.path)
        self._context = None

    @property
    def context(self):
        """The run context (latentatlas.context.RunContext: settings, data, codes, model), opened
        once; a stage method run through this Run opens it afresh."""
        if self._context is None:
            from .context import open_run

            self._context = open_run(self.path)
        return self._context

    def _latents(self) -> dict:
        """The codes, encoded first if the run has none yet (latents.npz is the encode stage's)."""
        if not self.context.has_latents:
            from .stages.encode import encode_run

            encode_run(self.path)
        return self.context.latents

    def _ran(self) -> "Run":
        self._context = None           # a stage wrote the folder: read it afresh next time
        return self

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # -- what the folder holds -------------------------------------------------------------
    @property
    def config(self) -> dict:
        """config.json: the resolved settings, one table per stage."""
        return self._rd.read_config()

    @property
    def metrics(self) -> dict:
        """metrics.json: every figure the stages measured, one section per stage."""
        return self._rd.read_metrics()

    @property
    def history(self) -> list[dict]:
        """history.jsonl: one row per trained epoch."""
        return self._rd.read_history()

    def codes(self, split: str = "test", kind: str = "mean"):
        """float32 (N, d) latent codes of a split ("train", "test", "all"): AE codes / VAE means
        (kind="mean"), "mu+logvar" or a sampled "z". Encodes the run first if needed."""
        from .stages.encode import features

        return features(self._latents(), split, kind)

    def labels(self, split: str = "test"):
        """int64 (N,) class labels of a split, aligned with codes(split)."""
        from .stages.encode import labels

        return labels(self._latents(), split)

    @property
    def class_names(self) -> list[str]:
        return self._latents()["class_names"]

    # -- the stages ------------------------------------------------------------------------
    def encode(self, batch_size: int = 1024, device=None) -> "Run":
        from .stages.encode import encode_run

        encode_run(self.path, batch_size=batch_size, device=device)
        return self._ran()

    def analyze(self, verbose: bool = True, **settings) -> "Run":
        """Projections, probes, clustering: the run's [analysis] settings, then `settings`
        (projections="pca:2,umap:3", probes="svm", clusterers="none", seed=1, ...)."""
        from .stages.analyze import analyze_run

        analyze_run(self.path, self._section("analysis", settings), verbose=verbose)
        return self._ran()

    def sample(self, progress: bool = True, **settings) -> "Run":
        """Samples, the judge, walks: the run's [generate] settings, then `settings`
        (samplers="gmm", n_per_class=8, judge=False, walks=[["1", "7"]], seed=1, ...)."""
        from .stages.generate import generate_run

        generate_run(self.path, self._section("generate", settings), progress=progress)
        return self._ran()

    def report(self, baseline=None) -> "Run":
        """Write report.html (one file, readable offline); its path is .report_path."""
        from .stages.report.html import write_report

        write_report(self.path, baseline=baseline)
        return self._ran()

    @property
    def report_path(self) -> Path:
        from .rundir import REPORT

        return self.path / REPORT

    def _section(self, section: str, settings: dict):
        from .settings import resolve_sections

        given = settings_tables(settings, (section,), own=True)
        tables = [{section: self._rd.config_section(section)}, given]
        return resolve_sections((section,), *tables, source=f"{self.path} [{section}]")[section]

    # -- figures -----------------------------------------------------------------------------
    def figures(self) -> list[dict]:
        """Every figure the stages listed in metrics.json: name, path, title, section."""
        out = []
        for section, value in self.metrics.items():
            for fig in (value.get("figures") or []) if isinstance(value, dict) else []:
                if isinstance(fig, dict) and fig.get("path"):
                    out.append({"name": Path(fig["path"]).stem, "path": fig["path"], "title": fig.get("title", ""),
                                "section": section, "caption": fig.get("caption", "")})
        return out

    def figure(self, name: str) -> "Figure":
        """A figure by name ("train_loss"), file name or path; displays inline in a notebook."""
        figs = self.figures()
        for fig in figs:
            if name in (fig["name"], fig["path"], Path(fig["path"]).name):
                return Figure(self.path / fig["path"], fig["title"], fig["caption"])
        names = sorted({f["name"] for f in figs})
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"{self.path} has no figure {name!r}{hint}; run.figures() lists the {len(names)} it has")

    def _repr_html_(self) -> str:
        return summary_html(self)


class Figure:
    """A figure file that a notebook shows inline (PNG, GIF, or an interactive plotly page)."""

    def __init__(self, path, title: str = "", caption: str = ""):
        self.path, self.title, self.caption = Path(path), title, caption

    def __repr__(self) -> str:
        return f"Figure({str(self.path)!r})"

    def _repr_png_(self):
        return self.path.read_bytes() if self.path.suffix == ".png" else None

    def _repr_html_(self) -> str:
        import base64

        head = f"<p><b>{html.escape(self.title)}</b></p>" if self.title else ""
        if self.path.suffix == ".html":  # a whole page (plotly.js inlined): keep it in its own frame
            page = html.escape(self.path.read_text(encoding="utf-8"), quote=True)
            return f'{head}<iframe srcdoc="{page}" style="width:100%;height:560px;border:0"></iframe>'
        mime = {".png": "image/png", ".gif": "image/gif"}.get(self.path.suffix, "application/octet-stream")
        data = base64.b64encode(self.path.read_bytes()).decode()
        return f'{head}<img alt="{html.escape(self.title)}" src="data:{mime};base64,{data}">'


def summary_html(run: Run) -> str:
    """A few lines: what was trained on what, how far, the headline figures, the report."""
    esc = html.escape
    m, cfg = run.metrics, run.config
    tr, data, model = m.get("train") or {}, cfg.get("data") or {}, cfg.get("model") or {}
    lines = [f"<b>latentatlas run</b> <code>{esc(str(run.path))}</code>"]
    what = f"{esc(str(tr.get('model') or model.get('name', '?')))}, latent {esc(str(tr.get('latent_dim') or '?'))}"
    lines.append(f"{what} on {esc(str(data.get('name', '?')))}")
    if tr:
        loss = tr.get("test_loss")
        lines.append(f"trained {tr.get('epochs')}/{tr.get('epochs_planned')} epochs"
                     + (f", test loss {loss:.4g} per image" if isinstance(loss, (int, float)) else ""))
    else:
        lines.append("not trained yet")
    for section, label in (("probes", "probe accuracy"), ("clustering", "clustering accuracy")):
        figures = [f"{esc(k)} {v['accuracy']:.3f}" for k, v in (m.get(section) or {}).items()
                   if isinstance(v, dict) and isinstance(v.get("accuracy"), (int, float))]
        if figures:
            lines.append(f"{label}: {', '.join(figures)}")
    n = len(run.figures())
    lines.append(f"{n} figure{'s' if n != 1 else ''} (run.figures(), run.figure(name))")
    if run.report_path.is_file():
        lines.append(f'report: <a href="{esc(str(run.report_path))}" target="_blank">{esc(str(run.report_path))}</a>')
    else:
        lines.append("report: not written yet (run.report())")
    return '<div class="latentatlas-run">' + "<br>".join(lines) + "</div>"


# ----------------------------------------------------------------------------- la.train
