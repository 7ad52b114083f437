"""The trained model as an MLflow model: its decoder, in MLflow 3's pickle-free "pt2" format.

    decoder = mlflow.pytorch.load_model("runs:/RUN_ID/decoder")   # a torch module, no latentatlas needed
    images = decoder(torch.randn(16, latent_dim))                 # (16, C, H, W) in [0, 1]

MLflow 3 saves PyTorch models with torch.export (a traced graph of `forward`) and refuses to
load pickled ones unless told to; a latentatlas model's `forward` is the training pass, so what
is exported is `decode`. The whole model (model.json + model.safetensors) goes beside it as
artefacts under model/, for `latentatlas` to rebuild.
"""

from __future__ import annotations

MODEL_NAME = "decoder"


def decoder_module(model):
    """An nn.Module whose forward is model.decode: (B, d) codes -> (B, C, H, W) images."""
    import torch

    class Decoder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, z):
            return self.inner.decode(z)

    return Decoder(model).eval()


def log_decoder(mlflow, uri: str, run_id: str, run_dir) -> str:
    """Log the run's decoder to the MLflow run; returns the URI mlflow.pytorch.load_model takes."""
    import numpy as np
    import torch
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    from .. import __version__
    from ..context import open_run

    model = open_run(run_dir, device="cpu").model
    d, c, (h, w) = model.latent_dim, model.in_channels, model.image_size
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, d), "z")]),
                               outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, c, h, w), "images")]))
    mlflow.set_tracking_uri(uri)   # Model.log writes through the fluent API's store
    # Inside the run, so the model lands in the run's experiment, where "runs:/ID/decoder" looks.
    with mlflow.start_run(run_id=run_id):
        # A batch of 2 in the example: torch.export keeps a size-1 dimension static.
        mlflow.pytorch.log_model(decoder_module(model), name=MODEL_NAME, signature=signature,
                                 input_example=np.zeros((2, d), np.float32), serialization_format="pt2",
                                 # given, so MLflow does not load the model in a subprocess to infer them
                                 pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
                                 metadata={"latentatlas_version": __version__, "latent_dim": d})
    return f"runs:/{run_id}/{MODEL_NAME}"
