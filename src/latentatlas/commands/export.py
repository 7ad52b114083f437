"""`latentatlas export RUN --tensorboard DIR`: a finished run, for the tools users already have.

    latentatlas export runs/demo --tensorboard runs/demo/tensorboard
    tensorboard --logdir runs/demo/tensorboard         (Scalars, Images, and the Projector tab)
    latentatlas export runs/demo --mlflow               (to $MLFLOW_TRACKING_URI, else ./mlruns)

TensorBoard gets the per-epoch losses and learning rate, the progress grids, and the test
codes (AE codes / VAE means) as an Embedding Projector embedding with each point's class
name and image. MLflow gets the settings, the per-epoch losses, the final figures of
metrics.json and report.html.
"""

from __future__ import annotations

from . import HelpFormatter, add_device_option


def add_parser(sub):
    p = sub.add_parser("export", help="write a finished run's logs for TensorBoard (Embedding Projector) or MLflow",
                       description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a trained run folder (encoded first if needed)")
    p.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="write TensorBoard logs here (a re-export replaces the logs an earlier one wrote)")
    p.add_argument("--mlflow", action="store_true",
                   help="log the run to MLflow ($MLFLOW_TRACKING_URI, else ./mlruns) as a new MLflow run")
    add_device_option(p, "the encoder (a run without codes is encoded first)")
    return p


def run(args) -> int:
    from ..errors import UserError
    from ..rundir import CONFIG, RunDir

    if not args.tensorboard and not args.mlflow:
        raise UserError("say where to export: --tensorboard DIR and/or --mlflow")
    RunDir(args.run_dir).require(CONFIG)
    if args.tensorboard:
        from ..stages.encode import load_latents
        from ..tracking.tensorboard import export_tensorboard

        # a finished run without codes is encoded first (latents.npz is the encode stage's)
        out = export_tensorboard(args.run_dir, args.tensorboard, ensure_codes=lambda: load_latents(args.run_dir, device=args.device))
        print(f"tensorboard: {out['epochs']} epochs and an embedding of {out['points']} test codes in "
              f"{out['log_dir']}; view with `tensorboard --logdir {out['log_dir']}`")
    if args.mlflow:
        from ..tracking.mlflow import export_mlflow

        run_id, uri = export_mlflow(args.run_dir)
        print(f"mlflow: run {run_id} in {uri}")
    return 0
