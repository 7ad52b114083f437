"""The PCA spectrum of the codes or of the raw pixels (one figure, one metrics entry)."""

from __future__ import annotations


def spectrum(steps, pca, rd, name, title, raw: bool = False) -> dict:
    """The PCA eigenvalue spectrum: its figure, and the components each share of the variance needs."""
    from ...figures import latent as latent_figures

    path = rd.figures / name
    cf = pca.components_for_
    steps.run(f"{name.split('.')[0]} figure", latent_figures.spectrum, pca.explained_variance_ratio_, path, title,
              components_for=cf)
    steps.figure(path, title, "png", "Explained variance per principal component and cumulated; "
                 + ", ".join(f"{k} of the variance needs {v} components" for k, v in cf.items()) + ".",
                 section="pca", method="pca", raw=raw)
    return {**{f"n_components_{k.rstrip('%')}": v for k, v in cf.items()},
            "explained_variance": pca.explained_variance_.tolist(),
            "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
            "cumulative": pca.cumulative_ratio_.tolist(), "components_for": cf}

