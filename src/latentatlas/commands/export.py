"""`latentatlas export RUN --tensorboard DIR / --mlflow / --wandb`: a finished run, for the tools
users already have.

    latentatlas export runs/demo --tensorboard runs/demo/tensorboard
    tensorboard --logdir runs/demo/tensorboard         (Scalars, Images, and the Projector tab)
    latentatlas export runs/demo --mlflow               (to $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)
    mlflow ui --backend-store-uri sqlite:///mlflow.db
    WANDB_MODE=offline latentatlas export runs/demo --wandb; wandb sync wandb/offline-run-*

TensorBoard gets the per-epoch losses and learning rate, the progress grids, and the test
codes (AE codes / VAE means) as an Embedding Projector embedding with each point's class
name and image. MLflow gets the settings as parameters, the per-epoch losses and the results
as metrics, the run's files (figures, metrics.json, config.json, report.html) as artefacts and
the decoder as a model. W&B gets the per-epoch losses, the grids, the results, the report and
the test codes as a table (class and image per row). Each prints how to open what it wrote.
"""

from __future__ import annotations

from . import HelpFormatter, add_device_option


def add_parser(sub):
    p = sub.add_parser("export", help="write a finished run's logs for TensorBoard (Embedding Projector), MLflow "
                                      "or Weights & Biases", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a trained run folder (encoded first if needed)")
    p.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="write TensorBoard logs here (a re-export replaces the logs an earlier one wrote)")
    p.add_argument("--mlflow", action="store_true",
                   help="log the run to MLflow ($MLFLOW_TRACKING_URI, else sqlite:///mlflow.db) as a new MLflow run")
    p.add_argument("--wandb", action="store_true",
                   help="log the run to Weights & Biases as a new W&B run ($WANDB_MODE, else offline unless "
                        "logged in)")
    add_device_option(p, "the encoder (a run without codes is encoded first)")
    return p


def run(args) -> int:
    from ..errors import UserError
    from ..rundir import CONFIG, RunDir
    from ..stages.encode import load_latents
    from ..tracking import export_run

    if not args.tensorboard and not args.mlflow and not args.wandb:
        raise UserError("say where to export: --tensorboard DIR, --mlflow and/or --wandb")
    RunDir(args.run_dir).require(CONFIG)
    # a finished run without codes is encoded first (latents.npz is the encode stage's), before
    # any tracker writes: a bad --device or a broken model then leaves no half-written logs
    if args.tensorboard:
        from ..tracking.tensorboard import summary_writer_class

        summary_writer_class()                    # a missing package is named before any work
    if args.wandb:
        from ..tracking.wandb import import_wandb

        import_wandb()
    if args.tensorboard or args.wandb:
        load_latents(args.run_dir, device=args.device)
    ensure_codes = lambda: load_latents(args.run_dir, device=args.device)  # noqa: E731
    if args.tensorboard:
        print(export_run("tensorboard", args.run_dir, ensure_codes=ensure_codes, log_dir=args.tensorboard))
    if args.mlflow:
        print(export_run("mlflow", args.run_dir))
    if args.wandb:
        print(export_run("wandb", args.run_dir, ensure_codes=ensure_codes))
    return 0
