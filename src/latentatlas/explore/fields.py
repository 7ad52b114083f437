"""Per-point fields the map can be coloured by, beyond class, cluster, probe error and variance.

    fields = Fields(state)                  # what this run offers
    fields.meta()  -> [{"name", "title", "kind", "description"}, ...]   (the colour menu)
    fields.column("recon_error")  -> ((N,) array, categories or None)

- "recon_error": the mean squared error per pixel (on [0, 1] pixels) between each image and
  the decoder's image of its code (the VAE's mean), computed in batches on first request and
  saved in maps.npz, so it costs one pass over the data once per run.
- "kl": a VAE's KL(q(z|x) || N(0, I)) per point, in nats,
  -1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2) (Kingma & Welling 2014, appendix B).
- "z<j>": latent dimension j itself.
- "col_<name>": a column of the user's CSV (`--columns`, columns.py): numbers, or categories.

Continuous fields travel as float32 (NaN where a CSV leaves a point blank); categorical ones as
uint16 codes with their category names.
"""

from __future__ import annotations

import threading

import numpy as np

RECON_BATCH = 1024


class Fields:
    """The extra colourings of one ExploreState (the module docstring)."""

    def __init__(self, state, columns: dict | None = None):
        self.state = state
        self.columns = dict(columns or {})        # name -> (values (N,), categories list or None)
        self._cache: dict = {}
        self._lock = threading.Lock()

    def meta(self) -> list[dict]:
        s = self.state
        out = [{"name": "recon_error", "title": "reconstruction error", "kind": "continuous", "lazy": True,
                "description": "mean squared error per pixel between the image and the decoded code "
                               "(computed on first use, then saved in maps.npz)"}]
        if s.logvar is not None:
            out.append({"name": "kl", "title": "KL per point", "kind": "continuous",
                        "description": "KL(q(z|x) || N(0, I)) in nats, summed over the latent dimensions"})
        out += [{"name": f"z{j}", "title": f"latent z{j}", "kind": "continuous",
                 "description": f"latent dimension {j} of the code (the VAE's mean)"} for j in range(s.latent_dim)]
        for name, (_, cats) in self.columns.items():
            out.append({"name": f"col_{name}", "title": name, "kind": "category" if cats else "continuous",
                        "description": "a column of the CSV given with --columns"})
        return out

    def names(self) -> set:
        return {m["name"] for m in self.meta()}

    def column(self, name: str) -> tuple[np.ndarray, list | None]:
        """((N,) float32 or uint16, categories or None) of one field; KeyError if unknown."""
        if name not in self.names():
            raise KeyError(name)
        s = self.state
        if name.startswith("col_"):
            return self.columns[name[4:]]
        if name == "kl":
            mu, lv = s.codes.astype(np.float64), s.logvar.astype(np.float64)
            return (-0.5 * (1 + lv - mu ** 2 - np.exp(lv)).sum(axis=1)).astype(np.float32), None
        if name == "recon_error":
            return self._recon_error(), None
        return np.ascontiguousarray(s.codes[:, int(name[1:])]), None

    def _recon_error(self) -> np.ndarray:
        with self._lock:                          # two first requests compute it once
            if "recon_error" not in self._cache:
                saved = self.state.run.read_maps().get("recon_error")
                if saved is not None and len(saved) == self.state.n:
                    self._cache["recon_error"] = np.asarray(saved, np.float32)
                else:
                    self._cache["recon_error"] = recon_error(self.state)
                    self.state._save_maps({"recon_error": self._cache["recon_error"]})
            return self._cache["recon_error"]


def recon_error(state) -> np.ndarray:
    """(N,) float32: per point, the mean over pixels of (image - decode(code))^2 on [0, 1] pixels.
    Decoded in batches, each under the state's decode lock, so that live decodes interleave."""
    import torch

    from ..figures.pixels import channels_last

    device = next(state.model.parameters()).device
    out = np.empty(state.n, np.float32)
    for lo in range(0, state.n, RECON_BATCH):
        z = torch.from_numpy(np.ascontiguousarray(state.codes[lo: lo + RECON_BATCH]))
        with state.lock, torch.inference_mode():
            x = state.model.decode(z.to(device)).float().cpu().numpy()     # (B, C, H, W) in [0, 1]
        img = state.images[lo: lo + RECON_BATCH].astype(np.float32) / 255.0   # (B, H, W) or (B, H, W, 3)
        x = channels_last(x)                                              # as the images: (B, H, W[, 3])
        out[lo: lo + len(z)] = ((x - img) ** 2).reshape(len(z), -1).mean(axis=1)
    return out
