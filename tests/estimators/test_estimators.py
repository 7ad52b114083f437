"""scikit-learn's own estimator checks over every estimator the package exports.

Each check is one test (`parametrize_with_checks`); a check an estimator cannot pass is
declared by the estimator itself (`_expected_failed_checks`, each with its reason) and is
an expected failure, strict: should it start passing, the test says so.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from latentatlas import registry
from latentatlas.estimators.cluster import N2D, GMMClusterer, KMeansClusterer
from latentatlas.estimators.backends import entry_class
from latentatlas.estimators.base import expected_failed_checks
from latentatlas.estimators.probe import KNNProbe, LogRegProbe, SVMProbe
from latentatlas.estimators.project import LDAProjection, PCAProjection, TSNEProjection, UMAPProjection
from latentatlas.estimators.torch_backends import (KNNTorchProbe, LogRegTorchProbe, TorchKMeans, TorchTSNE,
                                               TorchUMAP)
from latentatlas.estimators.sample import (ClassGaussianSampler, GaussianMixtureSampler, GaussianSampler,
                                       MixturePriorSampler, PriorSampler)

FAST = [
    PCAProjection(), LDAProjection(),
    # t-SNE on the checks' 20-100 points: few iterations keep it to seconds
    TSNEProjection(n_iter=50, early_exaggeration_iter=20),
    # the checks fit 10-100 points: 3 clusters or components keep EM to a fraction of a second
    GMMClusterer(n_clusters=3), KMeansClusterer(n_clusters=3),
    SVMProbe(), LogRegProbe(), KNNProbe(),
    # the torch backends (here on the CPU): the same contract as the CPU classes
    TorchKMeans(n_clusters=3), LogRegTorchProbe(), KNNTorchProbe(),
    PriorSampler(), GaussianSampler(), ClassGaussianSampler(), GaussianMixtureSampler(n_components=3),
    MixturePriorSampler(weights=[0.5, 0.5], means=[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]],
                        variances=[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]),
]
# umap-learn compiles its numba kernels on first use (~30 s on a shared 2-core machine).
# N2D embeds in n_clusters dimensions, which UMAP needs fewer of than points - 1: the checks
# fit 10 points, so 3 clusters (check_clustering sets 3 itself).
SLOW = [UMAPProjection(n_epochs=20), N2D(n_clusters=3), TorchTSNE(n_iter=50, early_exaggeration_iter=20),
        TorchUMAP(n_epochs=50)]


@parametrize_with_checks(FAST, expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_sklearn_accepts(estimator, check):
    check(estimator)


@parametrize_with_checks(SLOW, expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_sklearn_accepts_umap_estimators(estimator, check):
    check(estimator)


def test_every_registered_estimator_is_checked():
    """A kind added to a registry without being added here would go unchecked."""
    checked = {type(est) for est in FAST + SLOW}
    for reg in (registry.PROJECTIONS, registry.PROBES, registry.CLUSTERERS, registry.SAMPLERS):
        for name, entry in reg.items():
            assert entry.cls in checked, f"{reg.kind} {name!r} ({entry.target}) is not in FAST or SLOW"
            for backend in entry.limits.get("backends", {}):
                cls = entry_class(reg, name, backend)
                assert cls in checked, f"{reg.kind} {name!r} on {backend} ({cls.__name__}) is not in FAST or SLOW"


def test_the_registry_module_imports_no_heavy_library():
    """Settings are validated against the registries: that must not import sklearn or torch."""
    import subprocess
    import sys

    code = ("import sys, latentatlas.registry as r; r.PROBES.check('svm'); r.MODELS.title('vae'); "
            "print(sorted(m for m in ('sklearn', 'torch', 'umap', 'openTSNE') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
