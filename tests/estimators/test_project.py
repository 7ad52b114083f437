"""Projections: PCA spectrum, LDA fallbacks, t-SNE/UMAP backends, quality measures, bad dims."""

import numpy as np
import pytest

from latentatlas.settings import AnalysisConfig, parse_projection_spec
from latentatlas.errors import UserError
from latentatlas.estimators.neighbors import knn_graph
from latentatlas.estimators.project import (LDAProjection, PCAProjection, TSNEProjection, UMAPProjection, make_projection, projection_quality)


def blobs(n=300, d=6, k=3, seed=0, spread=0.3):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 5, size=(k, d))
    y = np.arange(n) % k
    return (centers[y] + rng.normal(0, spread, size=(n, d))).astype(np.float32), y


def test_pca_spectrum_counts_components_for_each_threshold():
    rng = np.random.default_rng(0)
    scales = np.array([10.0, 5.0, 2.0, 1.0, 0.5, 0.1])
    X = rng.normal(size=(4000, 6)) * scales
    pca = PCAProjection(n_components=2, random_state=0).fit(X)
    ratio = scales ** 2 / (scales ** 2).sum()
    expected = {f"{int(q * 100)}%": int(np.argmax(np.cumsum(ratio) >= q) + 1) for q in (0.9, 0.95, 0.99)}
    assert pca.embedding_.shape == (4000, 2)
    assert len(pca.explained_variance_ratio_) == 6          # the whole spectrum is kept
    np.testing.assert_allclose(pca.explained_variance_ratio_, ratio, atol=0.01)
    assert pca.components_for_ == expected
    assert pca.get_params() == {"n_components": 2, "random_state": 0}


def test_pca_projects_a_gaussian_like_its_samples():
    X, _ = blobs(2000, d=5)
    pca = PCAProjection(2).fit(X)
    mean, cov = X.mean(0), np.cov(X.T)
    m2, c2 = pca.project_gaussian(mean, cov)
    E = pca.transform(X)
    np.testing.assert_allclose(m2, E.mean(0), atol=1e-3)
    np.testing.assert_allclose(c2, np.cov(E.T), rtol=1e-3, atol=1e-3)


def test_pca_on_fewer_features_than_asked_falls_back_and_says_so():
    X, _ = blobs(100, d=2)
    pca = PCAProjection(3).fit(X)
    assert pca.embedding_.shape == (100, 2)
    assert "only 2" in pca.notes_[0]


def test_lda_with_three_classes_gives_two_dims_and_says_why():
    X, y = blobs(300, d=6, k=3)
    lda = LDAProjection(3).fit(X, y)
    assert lda.n_components_ == 2 and lda.embedding_.shape == (300, 2)
    assert "3 classes give at most 2" in lda.notes_[0]


def test_lda_limited_by_a_narrow_latent():
    X, y = blobs(400, d=1, k=4)
    lda = LDAProjection(2).fit(X, y)
    assert lda.embedding_.shape == (400, 1)
    assert "only 1 dimensions" in lda.notes_[0]


def test_lda_needs_labels():
    X, _ = blobs()
    with pytest.raises(UserError, match="labels"):
        LDAProjection(2).fit(X)


@pytest.mark.parametrize("spec", ["tsne:4", "pca:0", "umap:7", "isomap:2", "pca:two"])
def test_projection_specs_beyond_what_a_method_allows_are_user_errors(spec):
    with pytest.raises(UserError):
        parse_projection_spec(spec)
    with pytest.raises(UserError):
        AnalysisConfig(projections=[spec])


def test_tsne_refuses_more_than_three_dims():
    X, _ = blobs()
    with pytest.raises(UserError, match="at most 3"):
        TSNEProjection(n_components=4).fit(X)
    with pytest.raises(UserError, match="1 or 2"):
        TSNEProjection(n_components=3, negative_gradient_method="fft").fit(X)


def test_tsne_2d_fft_separates_blobs_and_uses_a_shared_graph():
    X, y = blobs(300)
    graph = knn_graph(X, 91)
    a = TSNEProjection(2, n_iter=250, random_state=0, knn=graph, negative_gradient_method="fft").fit(X)
    assert a.gradient_method_ == "FFT-interpolated"
    q = projection_quality(X, a.embedding_, y, np.arange(300) < 200)
    assert q["knn_accuracy"] == 1.0 and q["trustworthiness"] > 0.9


def test_tsne_3d_uses_barnes_hut_and_states_its_cost():
    X, _ = blobs(200)
    t = TSNEProjection(3, n_iter=100, early_exaggeration_iter=50, random_state=0).fit(X)
    assert t.embedding_.shape == (200, 3)
    assert t.gradient_method_ == "Barnes-Hut"
    assert "Barnes-Hut" in t.notes_[0] and " s for 200 points" in t.notes_[0]


def test_umap_with_a_precomputed_graph():
    X, y = blobs(300)
    graph = knn_graph(X, 20)
    u = UMAPProjection(2, n_neighbors=15, random_state=0, knn=graph).fit(X)
    assert u.embedding_.shape == (300, 2)
    q = projection_quality(X, u.embedding_, y, np.arange(300) < 200)
    assert q["knn_accuracy"] == 1.0


def test_umap_parallel_layout_runs_on_every_job_from_the_seeded_start(monkeypatch):
    """umap-learn pins a seeded fit to one thread; layout="parallel" lays out on n_jobs threads
    (the seed hidden for that call only) and says that the result is not bit-reproducible."""
    import numba
    import umap

    from latentatlas.estimators import project

    seen, real = [], umap.UMAP._fit_embed_data

    def watched(self, X, n_epochs, init, random_state, **kwargs):
        seen.append((numba.get_num_threads(), self.random_state, random_state.get_state()[1][:3].tolist()))
        return real(self, X, n_epochs, init, random_state, **kwargs)

    monkeypatch.setattr(umap.UMAP, "_fit_embed_data", watched)
    X, y = blobs(400)
    before = numba.get_num_threads()
    seeded = UMAPProjection(2, random_state=0, n_jobs=2, n_epochs=60).fit(X)
    par = UMAPProjection(2, random_state=0, n_jobs=2, n_epochs=60, layout="parallel").fit(X)
    assert seen[0][:2] == (1, 0)                      # umap-learn's own: one thread, seeded
    assert seen[1][:2] == (min(2, numba.config.NUMBA_NUM_THREADS), None)
    assert seen[0][2] == seen[1][2]                    # the same seeded random state draws the start
    assert par.umap_.random_state == 0 and numba.get_num_threads() == before
    assert seeded.notes_ == [] and "2 threads: not bit-reproducible" in par.notes_[0]
    tr = np.arange(400) < 300
    q_seeded = projection_quality(X, seeded.embedding_, y, tr)
    q_par = projection_quality(X, par.embedding_, y, tr)
    assert q_par["knn_accuracy"] == q_seeded["knn_accuracy"] == 1.0
    assert abs(q_par["trustworthiness"] - q_seeded["trustworthiness"]) < 0.02
    # one job: nothing to parallelise, umap-learn's seeded path and no note
    one = UMAPProjection(2, random_state=0, n_jobs=1, n_epochs=60, layout="parallel").fit(X)
    assert one.notes_ == [] and type(one.umap_) is umap.UMAP
    np.testing.assert_array_equal(one.embedding_, seeded.embedding_)
    with pytest.raises(UserError, match="UMAP layout 'fast'"):
        UMAPProjection(2, layout="fast").fit(X)
    assert project.umap_layout("auto", 2) == "seeded" and project.umap_layout("auto", 4) == "parallel"
    assert project.umap_layout("seeded", 64) == "seeded" and project.umap_layout("parallel", 2) == "parallel"


def test_the_umap_layout_setting_is_checked():
    assert AnalysisConfig().umap_layout == "auto"
    with pytest.raises(UserError, match="umap_layout"):
        AnalysisConfig(umap_layout="fast")


def test_knn_graph_puts_each_point_first_even_with_duplicates():
    X, _ = blobs(50)
    X[1] = X[0]                                  # a duplicate may steal the first slot
    idx, dist = knn_graph(X, 5)
    assert (idx[:, 0] == np.arange(50)).all() and (dist[:, 0] == 0).all()


def test_quality_measures_and_subsampling():
    X, y = blobs(600, d=2)
    q = projection_quality(X, X, y, np.arange(600) < 400, max_samples=200)
    assert q["n_points"] == 200 and q["subsampled"] is True
    assert q["trustworthiness"] == pytest.approx(1.0)   # the identity keeps every neighbour
    assert q["knn_accuracy"] == 1.0 and q["silhouette"] > 0.8
    shuffled = np.random.default_rng(0).permutation(X)
    assert projection_quality(X, shuffled, y, np.arange(600) < 400)["trustworthiness"] < 0.7


def test_make_projection_by_name_or_object():
    p = make_projection("lda", 2, random_state=3, n_jobs=2)
    assert isinstance(p, LDAProjection) and p.n_components == 2
    t = make_projection("tsne", 2, random_state=3, n_jobs=2)
    assert t.random_state == 3 and t.n_jobs == 2
    mine = PCAProjection(2)
    assert make_projection(mine) is mine
    with pytest.raises(UserError):
        make_projection("nope")
    with pytest.raises(UserError):
        make_projection(42)


def test_pca_of_wide_inputs_takes_the_covariance_route_with_the_same_spectrum():
    """Raw colour pixels (over 1,024 values, more rows than columns) go through the covariance's
    eigendecomposition: the same eigenvalues and embedding as the SVD, up to float error."""
    from sklearn.decomposition import PCA

    from latentatlas.estimators.project import WIDE_FEATURES, PCAProjection

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(1300, 8)) @ rng.normal(size=(8, WIDE_FEATURES + 50))
         + 0.1 * rng.normal(size=(1300, WIDE_FEATURES + 50))).astype(np.float32)
    est = PCAProjection(2, random_state=0).fit(X)
    assert est.pca_.svd_solver == "covariance_eigh"
    ref = PCA(n_components=min(X.shape), svd_solver="full").fit(X)
    np.testing.assert_allclose(est.explained_variance_ratio_[:20], ref.explained_variance_ratio_[:20], rtol=1e-3)
    np.testing.assert_allclose(np.abs(est.embedding_), np.abs(ref.transform(X)[:, :2]), rtol=1e-2, atol=1e-2)
    assert PCAProjection(2).fit(X[:, :WIDE_FEATURES]).pca_.svd_solver == "auto"     # narrow: as before


def test_tsne_gradient_goes_barnes_hut_where_its_threads_pay():
    """openTSNE's FFT gradient runs mostly on one thread, Barnes-Hut's on all of them: 2-D
    t-SNE of more than 5,000 points takes FFT below 4 jobs and Barnes-Hut from 4 up."""
    from latentatlas.estimators.project import tsne_gradient

    assert tsne_gradient("auto", 2, 20000, 2) == "fft"
    assert tsne_gradient("auto", 2, 20000, 1) == "fft" and tsne_gradient("auto", 2, 20000, None) == "fft"
    assert tsne_gradient("auto", 2, 20000, 4) == "bh" and tsne_gradient("auto", 2, 20000, 16) == "bh"
    assert tsne_gradient("auto", 2, 3000, 1) == "bh"          # small: Barnes-Hut whatever the jobs
    assert tsne_gradient("auto", 3, 20000, 1) == "bh"         # 3-D: Barnes-Hut only
    assert tsne_gradient("fft", 2, 20000, 16) == "fft"        # asked for: kept
    t = TSNEProjection(2, n_jobs=2, random_state=0, n_iter=10, early_exaggeration_iter=10).fit(blobs(5100, d=4)[0])
    assert t.gradient_method_ == "FFT-interpolated"
