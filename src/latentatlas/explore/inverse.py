"""The 2-D -> latent rule: which code the explorer decodes at a place on a map.

    InverseMap(xy (M, 2), codes (M, d), exact=False, k=8).fit()
    inverse.code(x, y) -> (code (d,), rule words)

Three rules, and every answer says which one it used:

- "exact": the view *is* the latent (a 2-d latent drawn as itself), so the
  position is the code.
- "idw": a distance-weighted mix of the codes of the k nearest mapped points,
  with inverse-distance weights w_i = 1 / dist_i^p (Shepard's interpolation); a
  click on a point returns that point's own code. It stays inside the convex
  hull of codes the encoder actually produced, so the decoder sees familiar
  inputs, and it answers in well under a millisecond (a KD-tree on the map).
- "umap": umap-learn's `inverse_transform`, available only for a UMAP fitted
  in this process (umap cannot be rebuilt from coordinates alone). It is slow
  (a small optimisation per call), so it is offered, not the default.
"""

from __future__ import annotations

import numpy as np

RULES = ("auto", "exact", "idw", "umap")


class InverseMap:
    """Maps 2-D positions on one view back to latent codes (see the module docstring)."""

    def __init__(self, xy, codes, exact: bool = False, k: int = 8, power: float = 2.0, umap=None):
        self.xy = np.asarray(xy, np.float64)            # (M, 2)
        self.codes = np.asarray(codes, np.float32)      # (M, d), row i is the code drawn at xy[i]
        self.exact = bool(exact)
        self.k = int(k)
        self.power = float(power)
        self.umap = umap                                # a fitted umap.UMAP, or None

    def fit(self) -> InverseMap:
        from sklearn.neighbors import NearestNeighbors

        self.k_ = int(min(self.k, len(self.xy)))
        self.nn_ = NearestNeighbors(n_neighbors=self.k_).fit(self.xy)
        return self

    @property
    def rules(self) -> list[str]:
        """The rules this view offers, the default first."""
        out = ["exact"] if self.exact else []
        out.append("idw")
        if self.umap is not None:
            out.append("umap")
        return out

    def describe(self, rule: str) -> str:
        if rule == "exact":
            return "exact: this view is the 2-d latent itself, so the position is the code"
        if rule == "umap":
            return "umap: umap-learn's inverse_transform of the UMAP fitted in this session"
        return (f"idw: inverse-distance-weighted mix (weights 1/d^{self.power:g}) of the codes of the "
                f"{self.k_} nearest mapped points")

    def code(self, x: float, y: float, rule: str = "auto") -> tuple[np.ndarray, str, list[int]]:
        """(code (d,) float32, rule description, map rows whose codes were mixed ([] if none))."""
        if rule == "auto":
            rule = self.rules[0]
        if rule not in self.rules:
            raise ValueError(f"rule {rule!r} is not offered on this view; choose from {', '.join(self.rules)}")
        if rule == "exact":
            return np.asarray([x, y], np.float32), self.describe(rule), []
        if rule == "umap":
            z = self.umap.inverse_transform(np.asarray([[x, y]], np.float32))[0]
            return np.asarray(z, np.float32), self.describe(rule), []
        return self._idw(x, y)

    def _idw(self, x: float, y: float):
        dist, rows = self.nn_.kneighbors(np.asarray([[x, y]], np.float64))
        dist, rows = dist[0], rows[0]                    # (k,), nearest first
        if dist[0] <= 1e-12 * (1.0 + abs(x) + abs(y)):  # on a point: its own code, not a blur
            return self.codes[rows[0]].copy(), self.describe("idw"), [int(rows[0])]
        w = 1.0 / dist ** self.power
        w /= w.sum()
        code = (w[:, None] * self.codes[rows].astype(np.float64)).sum(axis=0)
        return code.astype(np.float32), self.describe("idw"), [int(r) for r in rows]
