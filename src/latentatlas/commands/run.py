"""`latentatlas run`: from data to report in one command.

Settings come from, in order of precedence: the options given on the command
line; a --config file or a --preset; the defaults. The stage commands' own
option helpers (`add_<stage>_args`, `<stage>_config_from_args`) are reused, so
`run` accepts the same options as `train`, `analyze` and `sample`.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util

# With neither --preset nor --config, `run` starts from this preset: our defaults.
DEFAULT_PRESET = "default-vae"

# Stage commands whose options `run` reuses (their add_*_args / *_config_from_args helpers).
STAGE_COMMANDS = ("train", "analyze", "sample", "interpolate", "encode")


class _Default:
    """Marks an option the user did not give, so a preset's value is kept for it."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return repr(self.value)

    def __str__(self):
        return str(self.value)


class _Tolerant:
    """Wraps a parser or group: options another helper already declared are skipped, not errors."""

    def __init__(self, target, root: argparse.ArgumentParser, added: list):
        self._target, self._root, self._added = target, root, added

    def add_argument(self, *names, **kwargs):
        taken = self._root._option_string_actions
        if not names or not names[0].startswith("-"):
            return None  # positionals belong to the stage command, not to `run`
        free = [n for n in names if n not in taken]
        if not free or (kwargs.get("dest") and any(a.dest == kwargs["dest"] for a in self._root._actions)
                        and len(free) < len(names)):
            return None
        action = self._target.add_argument(*free, **kwargs)
        self._added.append(action)
        return action

    def add_argument_group(self, *a, **k):
        return _Tolerant(self._root.add_argument_group(*a, **k), self._root, self._added)

    def add_mutually_exclusive_group(self, *a, **k):
        return _Tolerant(self._target.add_mutually_exclusive_group(*a, **k), self._root, self._added)

    def set_defaults(self, **kw):
        return self._root.set_defaults(**kw)

    def __getattr__(self, name):
        return getattr(self._target, name)


def _helpers(kind: str):
    """(command, function) for every add_*_args (kind="add") or *_config_from_args (kind="from")."""
    out = []
    for command in STAGE_COMMANDS:
        name = f"latentatlas.commands.{command}"
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        for attr in sorted(dir(module)):
            if kind == "add" and attr.startswith("add_") and attr.endswith("_args") and attr != "add_common_data_args":
                out.append((command, getattr(module, attr)))
            if kind == "from" and attr.endswith("_config_from_args"):
                out.append((command, getattr(module, attr)))
    return out


# Fallback options, used only where no stage helper declares them: option -> (section, field).
FALLBACK = {"dataset": ("data", "name"), "classes": ("data", "classes"), "data_dir": ("data", "data_dir"),
            "model": ("model", "name"), "latent_dim": ("model", "latent_dim"), "epochs": ("train", "epochs")}


def add_parser(sub):
    p = sub.add_parser(
        "run", help="train, encode, analyse, generate and write the HTML report, in one command",
        description="Train, encode, analyse, generate and write RUN/report.html in one go.\n"
                    "Stages already done in the run directory with the same settings are reused\n"
                    "(--force runs them again). With --preset demo (or no preset) and no --dataset,\n"
                    "the full MNIST is used when it can be found or fetched, else the embedded\n"
                    "10,000-image sample; the console and the report say which.\n\n"
                    "Settings: the options given here, over a --config file or a --preset, over\n"
                    "the defaults.\n\n"
                    "examples:\n  latentatlas run --preset demo --out runs/demo\n"
                    "  latentatlas run --dataset mnist --out runs/mnist\n"
                    "  latentatlas run --preset study001-vae-svm --out runs/study001\n"
                    "  latentatlas run --config my.toml --out runs/mine",
        formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", default=None, metavar="NAME",
                     help="start from a shipped preset (demo, default-ae, default-vae, study000-cae-lda, ...; "
                          f"default: {DEFAULT_PRESET}, our defaults)")
    src.add_argument("--config", default=None, metavar="FILE", help="start from a TOML or JSON config file")
    p.add_argument("--out", default=None, metavar="DIR", help="run directory (default: runs/<preset or 'run'>)")
    p.add_argument("--force", action="store_true", help="run every stage again, even those already done with the same settings")
    p.add_argument("--skip", default="", metavar="STAGES",
                   help="comma-separated stages not to run: train, data, encode, analyze, generate, report "
                        "[default: none]")
    p.add_argument("--baseline", default=None, metavar="RUN_DIR",
                   help="our default run, put beside a study preset's published figures in the report "
                        "[default: runs/<the study's baseline preset> when it exists]")
    p.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    added: list = []
    tolerant = _Tolerant(p, p, added)
    for _, helper in _helpers("add"):
        helper(tolerant)
    mine = []
    fb = _Tolerant(p.add_argument_group("data and model (when the stage commands give no such option)"), p, mine)
    fb.add_argument("--dataset", default=None, help="dataset: mnist, fashion-mnist, mnist-sample, folder:PATH, npz:PATH")
    fb.add_argument("--classes", default=None, help="keep only these classes, e.g. 1,4,8")
    fb.add_argument("--data-dir", default=None, help="folder holding the dataset's files")
    fb.add_argument("--model", default=None, help="model name (ae, vae, study architectures)")
    fb.add_argument("--latent-dim", type=int, default=None, help="size of the latent code")
    fb.add_argument("--epochs", type=int, default=None, help="training epochs")
    p.set_defaults(_fallback_dests=[a.dest for a in mine],
                   _types={a.dest: a.type for a in added + mine if callable(a.type)},
                   _real_defaults={a.dest: a.default for a in added + mine})
    # Wrap defaults so run() can tell an option given from one left at its default.
    for action in added + mine:
        if action.default is not argparse.SUPPRESS and action.dest != "help":
            action.default = _Default(action.default)
    return p


def _unwrap(args) -> set[str]:
    """Replace _Default markers by the real defaults; return the dests the user gave."""
    explicit = set()
    parser_types = getattr(args, "_types", {})
    for key, value in list(vars(args).items()):
        if isinstance(value, _Default):
            real = value.value
            conv = parser_types.get(key)
            if isinstance(real, str) and conv is not None:
                real = conv(real)
            setattr(args, key, real)
        else:
            explicit.add(key)
    return explicit


def _dataclasses_in(result) -> list:
    from dataclasses import is_dataclass

    if is_dataclass(result):
        return [result]
    if isinstance(result, dict):
        result = list(result.values())
    if isinstance(result, (list, tuple)):
        return [r for r in result if is_dataclass(r)]
    return []


def _section_for(obj) -> str | None:
    from .. import config as C

    for section, cls in C._section_classes().items():
        if cls is not None and isinstance(obj, cls):
            return section
    return None


def build_config(args, explicit: set[str]):
    """RunConfig: preset/config file, then every option the user gave on top."""
    import copy
    from dataclasses import asdict, fields, is_dataclass

    from ..config import build_dataclass, load_config, load_preset

    if args.config:
        cfg = load_config(args.config)
    elif args.preset:
        cfg = load_preset(args.preset)
    else:
        cfg = load_preset(DEFAULT_PRESET)  # our defaults: what `latentatlas run --dataset mnist` runs
    # What the stage helpers make of the options, and of the same options all left at default.
    given = explicit - {"preset", "config", "out", "force", "skip", "baseline", "command", "list_presets"}
    defaults_ns = copy.copy(args)  # the same options, those given reset to their defaults
    real_defaults = getattr(args, "_real_defaults", {})
    for dest in given & set(real_defaults):
        setattr(defaults_ns, dest, real_defaults[dest])
    for _, helper in _helpers("from"):
        try:
            made = _dataclasses_in(helper(args))
        except TypeError:
            continue  # a helper with another signature: its command handles it
        base = _dataclasses_in(helper(defaults_ns)) if given else made
        for obj, ref in zip(made, base):
            section = _section_for(obj)
            if section is None:
                continue
            current = getattr(cfg, section)
            values = asdict(current) if is_dataclass(current) else dict(current)
            for f in fields(obj):
                new, old = getattr(obj, f.name), getattr(ref, f.name)
                if new != old or f.name in given:  # changed by an option the user gave
                    values[f.name] = new
            setattr(cfg, section, build_dataclass(type(obj), values, section, "options"))
    for dest in set(getattr(args, "_fallback_dests", [])) & given:
        section, field_name = FALLBACK[dest]
        value = getattr(args, dest)
        if dest == "classes" and isinstance(value, str):
            value = [c.strip() for c in value.split(",") if c.strip()]
        current = getattr(cfg, section)
        values = asdict(current) if is_dataclass(current) else dict(current)
        values[field_name] = value
        from .. import config as C

        cls = C._section_classes()[section]
        setattr(cfg, section, build_dataclass(cls, values, section, "options") if cls else values)
    return cfg


def run(args) -> int:
    from ..config import list_presets
    from ..pipeline import format_summary, run_pipeline

    explicit = _unwrap(args)
    if args.list_presets:
        print("\n".join(list_presets()))
        return 0
    cfg = build_config(args, explicit)
    dataset_given = "dataset" in explicit or bool(args.config)
    # The demo (and a bare `latentatlas run`) falls back to the embedded sample; a named
    # dataset never does.
    sample_fallback = not dataset_given and args.preset in (None, "demo")
    out = args.out or f"runs/{args.preset or 'run'}"
    skip = tuple(s.strip() for s in (args.skip or "").split(",") if s.strip())
    preset = args.preset or (None if args.config else DEFAULT_PRESET)
    summary = run_pipeline(out, cfg, preset=preset, force=args.force, sample_fallback=sample_fallback,
                           baseline=args.baseline, skip=skip)
    print(format_summary(summary))
    return 0
