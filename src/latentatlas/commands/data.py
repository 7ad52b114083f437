"""`latentatlas data`: list, fetch, verify and describe datasets.

The data options come from DataConfig's declaration (latentatlas.settings).
Nothing here imports numpy at module level: `add_parser` must stay light.
"""

from __future__ import annotations

from ..settings import add_section_options
from . import HelpFormatter

# The registry's names, spelled out: importing it (numpy) would make --help slow.
# tests/test_data.py checks them against latentatlas.data.registry.REGISTRY.
NAMES_HELP = "mnist, fashion-mnist, mnist-sample, cifar10, svhn, mnist-color, folder:PATH or npz:PATH"
DOWNLOADABLE = "mnist, fashion-mnist, cifar10, svhn or mnist-color"
VERIFIABLE = "mnist, fashion-mnist, mnist-sample, cifar10, svhn or mnist-color"


def add_parser(sub):
    p = sub.add_parser(
        "data", help="list, fetch, verify and describe datasets", formatter_class=HelpFormatter,
        description="Datasets: where they are found, downloading and checking them, what they hold.\n\n"
                    "Search order for mnist, fashion-mnist, cifar10, svhn (mnist-color is built from mnist):\n"
                    "--data-dir; $LATENTATLAS_DATA; the cache\n"
                    "($LATENTATLAS_CACHE or ~/.cache/latentatlas)/datasets/<name>; /usr/share/datasets/<name>;\n"
                    "last, a download from the official mirrors, verified by SHA-256.\n"
                    "In a folder, both FOLDER/<name>/<files> and FOLDER/<files> are accepted.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")

    q = dsub.add_parser("list", help="known datasets and where each is found (no download)",
                        formatter_class=HelpFormatter)
    add_section_options(q, "data", only=("data_dir",))

    q = dsub.add_parser("fetch", help="download a dataset into the cache (verified by SHA-256)",
                        formatter_class=HelpFormatter,
                        description="Download a dataset from its official site into the cache, unless it "
                                    "is already found; verified by SHA-256 (of the decompressed bytes for "
                                    "the IDX files, of the file for cifar-10-binary.tar.gz and SVHN's "
                                    ".mat files). mnist-color fetches mnist. $LATENTATLAS_MIRRORS "
                                    "(comma-separated URLs) replaces the official sites.")
    q.add_argument("name", metavar="NAME", help=DOWNLOADABLE)
    q.add_argument("--force", action="store_true", help="download again into the cache even if found")
    q.add_argument("--timeout", type=float, default=30.0, help="seconds to wait on a silent mirror (default: 30)")

    q = dsub.add_parser("verify", help="check a dataset's files against their SHA-256 (exit 2 on mismatch)",
                        formatter_class=HelpFormatter,
                        description="Compute the SHA-256 of each file (of its decompressed bytes for IDX "
                                    "files) and compare it with the published value. Never downloads.")
    q.add_argument("name", metavar="NAME", help=VERIFIABLE)
    add_section_options(q, "data", only=("data_dir",))

    q = dsub.add_parser("info", help="shapes, class counts per split, pixel range, source",
                        formatter_class=HelpFormatter)
    q.add_argument("name", metavar="NAME", help=NAMES_HELP)
    add_section_options(q, "data", skip=("name",))
    q.add_argument("--no-download", action="store_true",
                   help="never download; fail if the dataset is not found")
    q.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(_data_parser=p)
    return p


def _data_dir(args) -> str | None:
    from ..settings import given_tables

    return given_tables(args).get("data", {}).get("data_dir")


def run(args) -> int:
    action = getattr(args, "data_command", None)
    if action is None:
        args._data_parser.print_help()
        return 0
    return {"list": _list, "fetch": _fetch, "verify": _verify, "info": _info}[action](args)


def _list(args) -> int:
    from ..data.registry import KNOWN, REGISTRY, dataset_status

    width = max(len(n) for n in KNOWN)
    for entry in REGISTRY.values():
        status = dataset_status(entry.name, _data_dir(args))
        if status is None:   # named by a path: found wherever the path says
            print(f"{entry.name:<{width}}  {entry.description}")
            continue
        print(f"{entry.name:<{width}}  {status}")
        print(f"{'':<{width}}  {entry.description}")
    return 0


def _fetch(args) -> int:
    from ..data.registry import fetch_target

    name, module = fetch_target(args.name)   # mnist-color: mnist, the files it is built from
    if name != args.name:
        print(f"{args.name} is built from the {name} files: fetching {name}")
    if not args.force:
        loc = module.locate(name)
        if loc.found:
            print(f"{name}: already present at {loc.folder} ({loc.where}); "
                  "`latentatlas data verify` checks it, --force downloads again")
            return 0
    loc = module.download(name, timeout=args.timeout, force=args.force)
    print(f"{name}: {len(loc.paths)} files verified in {loc.folder}")
    return 0


def _verify(args) -> int:
    from ..data.registry import verify_dataset
    from ..errors import UserError

    results, count, table, what = verify_dataset(args.name, _data_dir(args))
    bad = []
    for path, ok, expected, actual in results:
        if ok is None:   # an extracted CIFAR-10 folder: only the archive's checksum is published
            print(f"--   {path} (extracted folder: no published SHA-256; its files are checked when read)")
            continue
        print(f"{'OK ' if ok else 'BAD'}  {path}")
        if not ok:
            bad.append((path, expected, actual))
    if bad:
        path, expected, actual = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise UserError(f"{path}: checksum mismatch{more}: SHA-256 of {what} is {actual}, "
                        f"expected {expected}; delete it and run `latentatlas data fetch {table}`, "
                        "or copy a good file there")
    checked = sum(ok is not None for _, ok, _, _ in results)
    if checked < count:
        print(f"{args.name}: {checked} of {count} files checked, all match their published SHA-256")
    else:
        print(f"{args.name}: all {count} files match their published SHA-256")
    return 0


def _info(args) -> int:
    import json

    from dataclasses import asdict

    from ..data import describe_dataset, load_dataset
    from ..settings import resolve_sections

    data_cfg = resolve_sections(("data",), {"data": {"name": args.name}}, args=args)["data"]
    ds = load_dataset(**asdict(data_cfg), download=not args.no_download)
    d = describe_dataset(ds)
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    h, w = ds.image_shape
    print(f"dataset   {d['name']}")
    print(f"source    {d['source']}")
    colour = "grey (1 channel)" if ds.channels == 1 else f"RGB ({ds.channels} channels)"
    print(f"images    {d['train']['images']} training, {d['test']['images']} test, {h}x{w} {colour}, uint8")
    print(f"classes   {d['n_classes']}")
    for part in ("train", "test"):
        s = d[part]
        print(f"{part:<5}     x {tuple(s['shape'])}  pixels {s['pixel_min']}..{s['pixel_max']} "
              f"(mean {s['pixel_mean']})")
    width = max(len(n) for n in ds.class_names)
    print(f"  {'label':>5}  {'class':<{width}}  {'orig':>4}  {'train':>6}  {'test':>6}")
    for i, name in enumerate(ds.class_names):
        orig = ds.original_labels[i] if ds.original_labels else i
        print(f"  {i:>5}  {name:<{width}}  {orig:>4}  {d['train']['class_counts'][i]:>6}  "
              f"{d['test']['class_counts'][i]:>6}")
    if ds.unusable:
        print(f"skipped   {len(ds.unusable)} file{'s' if len(ds.unusable) != 1 else ''} that cannot be used "
              "(the warning above names the first; a run's report lists them all)")
    hint = first_run_hint(ds)
    if hint:
        print(hint)
    return 0


FIRST_RUN_PRESET = "folder-64"     # presets/folder-64.toml: a few thousand colour images, ~5 minutes on 2 cores
FIRST_RUN_IMAGES = (500, 20000)    # the sizes it was chosen for (a few thousand; fine from hundreds to 20,000)


def first_run_hint(ds) -> str | None:
    """For an image folder of about the size the folder-64 preset was made for: the command of a first run."""
    import shlex

    from ..data.registry import entry_for

    entry = entry_for(ds.name)
    n = len(ds.y_train) + len(ds.y_test)
    if entry is None or not entry.takes_path or not FIRST_RUN_IMAGES[0] <= n <= FIRST_RUN_IMAGES[1]:
        return None
    return (f"first run {n} images suit the {FIRST_RUN_PRESET} preset (64x64, every stage in about 5 minutes "
            f"on 2 CPU cores):\n          latentatlas run --preset {FIRST_RUN_PRESET} --dataset {shlex.quote(ds.name)} "
            "--out runs/first")
