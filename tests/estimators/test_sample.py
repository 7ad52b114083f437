"""Latent samplers: MLE parameters, shapes and sources, seeds, and every bad input."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from latentatlas.errors import UserError
from latentatlas.estimators.sample import (ClassGaussianSampler, GaussianMixtureSampler, GaussianSampler, PriorSampler,
                                       default_samplers, full_covariances, make_sampler, mle_gaussian)


def three_blobs(n=3000, d=4, seed=0):
    """Codes from three well-separated Gaussians with different covariances; labels 0..2."""
    rng = np.random.default_rng(seed)
    means = np.array([[0.0] * d, [10.0] * d, [-10.0] + [5.0] * (d - 1)])
    scales = [0.5, 1.0, 2.0]
    labels = rng.integers(0, 3, n)
    codes = means[labels] + rng.standard_normal((n, d)) * np.array(scales)[labels, None]
    return codes, labels, means, scales


def test_class_gaussian_parameters_are_the_mle_of_each_class():
    codes, labels, _, _ = three_blobs()
    s = ClassGaussianSampler(reg_covar=0.0).fit(codes, labels)
    assert s.classes_.tolist() == [0, 1, 2]
    for i, c in enumerate(s.classes_):
        sel = codes[labels == c]
        np.testing.assert_allclose(s.means_[i], sel.mean(0))
        # MLE divides by N (bias=True), not N - 1.
        np.testing.assert_allclose(s.covariances_[i], np.cov(sel, rowvar=False, bias=True), atol=1e-12)
        assert s.counts_[i] == len(sel)


def test_class_gaussian_samples_follow_each_class_distribution():
    codes, labels, means, scales = three_blobs()
    s = ClassGaussianSampler().fit(codes, labels)
    z, y = s.sample(4000, random_state=0)
    assert z.shape == (12000, 4) and z.dtype == np.float32
    assert y.tolist() == [0] * 4000 + [1] * 4000 + [2] * 4000     # grouped by class, n per class
    for c in range(3):
        np.testing.assert_allclose(z[y == c].mean(0), means[c], atol=0.15)
        np.testing.assert_allclose(z[y == c].std(0), scales[c], rtol=0.08)


def test_class_gaussian_subset_of_classes_and_unknown_class():
    codes, labels, _, _ = three_blobs()
    s = ClassGaussianSampler().fit(codes, labels)
    z, y = s.sample(5, classes=[2, 0], random_state=1)
    assert y.tolist() == [2] * 5 + [0] * 5
    with pytest.raises(UserError, match="class 7"):
        s.sample(5, classes=[7])


def test_sampler_needing_labels_given_none_is_a_user_error():
    codes, _, _, _ = three_blobs()
    with pytest.raises(UserError, match="needs class labels"):
        ClassGaussianSampler().fit(codes)


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_non_positive_sample_count_is_a_user_error(n):
    codes, labels, _, _ = three_blobs(300)
    for sampler in (GaussianSampler(), ClassGaussianSampler(), GaussianMixtureSampler(3), PriorSampler()):
        sampler.fit(codes, labels)
        with pytest.raises(UserError, match="positive integer"):
            sampler.sample(n)


def test_prior_needs_a_vae_and_samples_standard_normal():
    with pytest.raises(UserError, match="needs a VAE"):
        make_sampler("prior", model_kind="ae")
    s = make_sampler("prior", model_kind="vae").fit(np.zeros((10, 3)))
    z, src = s.sample(20000, random_state=0)
    assert (src == -1).all()
    np.testing.assert_allclose(z.mean(0), 0, atol=0.03)
    np.testing.assert_allclose(np.cov(z, rowvar=False), np.eye(3), atol=0.04)
    assert default_samplers("ae") == ["gaussian", "class-gaussian", "gmm"]
    assert default_samplers("vae")[0] == "prior"


def test_a_learned_mixture_prior_replaces_n01_for_vade():
    prior = {"weights": np.array([0.2, 0.8]), "means": np.array([[-5.0, 0.0], [5.0, 1.0]]),
             "variances": np.array([[0.25, 0.25], [1.0, 4.0]])}
    s = make_sampler("prior", model_kind="vae", prior=prior).fit(np.zeros((3, 2)))
    z, comp = s.sample(40_000, random_state=0)
    assert z.shape == (40_000, 2) and set(np.unique(comp)) == {0, 1}
    assert (comp == 1).mean() == pytest.approx(0.8, abs=0.01)
    np.testing.assert_allclose(z[comp == 1].mean(0), [5.0, 1.0], atol=0.05)
    np.testing.assert_allclose(z[comp == 1].var(0), [1.0, 4.0], rtol=0.05)
    np.testing.assert_allclose(z[comp == 0].std(0), [0.5, 0.5], rtol=0.05)
    with pytest.raises(UserError, match="mixture prior is 2-d but the codes are 3-d"):
        make_sampler("prior", model_kind="vae", prior=prior).fit(np.zeros((3, 3)))


def test_samplers_without_classes_refuse_classes():
    codes, labels, _, _ = three_blobs(300)
    with pytest.raises(UserError, match="knows no classes"):
        GaussianSampler().fit(codes).sample(3, classes=[0])


def test_ridge_keeps_a_dead_dimension_sampleable():
    """A constant latent dimension makes the MLE covariance singular; the ridge fixes Cholesky."""
    rng = np.random.default_rng(0)
    codes = np.column_stack([rng.standard_normal(500), np.full(500, 3.0), rng.standard_normal(500)])
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(mle_gaussian(codes, reg_covar=0.0)[1])
    s = GaussianSampler().fit(codes)
    z, _ = s.sample(1000, random_state=0)
    assert np.isfinite(z).all()
    # The ridge is relative and tiny: the dead dimension barely moves.
    assert np.abs(z[:, 1] - 3.0).max() < 0.05


def test_seeds_reproduce_and_differ():
    codes, labels, _, _ = three_blobs(600)
    for sampler in (GaussianSampler(), ClassGaussianSampler(), GaussianMixtureSampler(3)):
        sampler.fit(codes, labels)
        a, _ = sampler.sample(50, random_state=3)
        b, _ = sampler.sample(50, random_state=3)
        c, _ = sampler.sample(50, random_state=4)
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c)


def test_gmm_recovers_clusters_and_their_classes():
    codes, labels, means, _ = three_blobs()
    s = GaussianMixtureSampler(n_components=3, random_state=0).fit(codes, labels)
    # Each component's mean sits on one true mean, and its majority class is that blob's label.
    for j in range(3):
        c = s.component_class_[j]
        np.testing.assert_allclose(s.means_[j], means[c], atol=0.2)
    assert sorted(s.component_class_.tolist()) == [0, 1, 2]
    assert (s.component_purity_ > 0.99).all()
    z, comp = s.sample(3000, random_state=0)
    assert (np.diff(comp) >= 0).all()                               # sorted by component, like sklearn
    np.testing.assert_allclose(np.bincount(comp, minlength=3) / 3000, s.weights_, atol=0.03)


def test_gmm_sample_per_component_draws_from_each_component():
    codes, labels, means, _ = three_blobs()
    s = GaussianMixtureSampler(n_components=3, random_state=0).fit(codes, labels)
    z, comp = s.sample_per_component(2000, random_state=0)
    assert z.shape == (6000, 4) and comp.tolist() == [0] * 2000 + [1] * 2000 + [2] * 2000
    for j in range(3):
        np.testing.assert_allclose(z[comp == j].mean(0), s.means_[j], atol=0.15)
    with pytest.raises(UserError, match="positive integer"):
        s.sample_per_component(0)


def test_gmm_component_count_checked():
    codes, labels, _, _ = three_blobs(20)
    with pytest.raises(UserError, match="components"):
        GaussianMixtureSampler(n_components=50).fit(codes)
    with pytest.raises(UserError, match="components"):
        GaussianMixtureSampler(n_components=0).fit(codes)


def test_estimator_contract_clone_and_params():
    s = GaussianMixtureSampler(n_components=4, random_state=7)
    assert s.get_params()["n_components"] == 4
    c = clone(s)
    assert c.get_params() == s.get_params() and not hasattr(c, "gmm_")
    assert clone(ClassGaussianSampler(reg_covar=1e-3)).reg_covar == 1e-3
    with pytest.raises(NotFittedError, match="not fitted"):
        GaussianSampler().sample(3)
    with pytest.raises(NotFittedError, match="not fitted"):
        GaussianMixtureSampler().sample_per_component(3)


def test_bad_codes_and_unknown_sampler():
    with pytest.raises(UserError, match="NaN"):
        GaussianSampler().fit(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(UserError, match=r"\(N, d\)"):
        GaussianSampler().fit(np.zeros(5))
    with pytest.raises(UserError, match="labels must be"):
        ClassGaussianSampler().fit(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(UserError, match="unknown sampler"):
        make_sampler("diffusion")


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_full_covariances_expands_every_covariance_type(kind):
    from sklearn.mixture import GaussianMixture

    codes, _, _, _ = three_blobs(600, d=3)
    g = GaussianMixture(3, covariance_type=kind, random_state=0).fit(codes)
    full = full_covariances(g)
    assert full.shape == (3, 3, 3)
    # The expanded matrices give the mixture's own log-likelihood back.
    back = GaussianMixture(3, covariance_type="full").fit(codes[:10])
    back.weights_, back.means_, back.covariances_ = g.weights_, g.means_, np.array(full)
    back.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(full))
    np.testing.assert_allclose(back.score_samples(codes), g.score_samples(codes), rtol=1e-6)


def test_make_sampler_passes_the_mixture_its_settings():
    s = make_sampler("gmm", n_components=3, random_state=5)
    assert isinstance(s, GaussianMixtureSampler) and (s.n_components, s.random_state) == (3, 5)
    assert make_sampler("gaussian", n_components=3).get_params() == GaussianSampler().get_params()
