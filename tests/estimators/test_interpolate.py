"""Latent paths: convex walks, tours, traversals, the 2-d manifold grid, class means."""

import numpy as np
import pytest

from latentatlas.errors import UserError
from latentatlas.estimators.interpolate import class_means, convex_path, manifold_grid, tour, traversal


def test_convex_path_is_a_straight_line_with_both_endpoints():
    a, b = np.array([0.0, 2.0, -1.0]), np.array([4.0, -2.0, 1.0])
    path = convex_path(a, b, steps=5)
    assert path.shape == (5, 3)
    np.testing.assert_allclose(path[0], a)
    np.testing.assert_allclose(path[-1], b)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile((b - a) / 4, (4, 1)))   # equal steps


@pytest.mark.parametrize("steps", [1, 0, -2, 2.5])
def test_too_few_steps_is_a_user_error(steps):
    with pytest.raises(UserError, match="steps"):
        convex_path(np.zeros(2), np.ones(2), steps=steps)


def test_tour_visits_every_point_and_closes_without_repeated_frames():
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    path = tour(pts, steps_per_leg=4)
    assert path.shape == (3 * 3, 2)                                 # 3 legs x (4 - 1) frames
    for p in pts:
        assert np.isclose(path, p).all(1).any()
    assert not np.isclose(path[1:], path[:-1]).all(1).any()        # no frame repeats the previous
    np.testing.assert_allclose(path[0], pts[0])
    # the last frame is one step short of the start, so the GIF loops seamlessly
    np.testing.assert_allclose(path[-1], pts[2] + (pts[0] - pts[2]) * 2 / 3)
    open_path = tour(pts, steps_per_leg=4, closed=False)
    np.testing.assert_allclose(open_path[-1], pts[-1])
    with pytest.raises(UserError, match="two points"):
        tour(pts[:1])


def test_traversal_moves_one_dimension_per_row():
    center = np.array([1.0, -1.0, 0.5])
    scale = np.array([2.0, 1.0, 0.1])
    t = traversal(center, scale, k=3.0, steps=7)
    assert t.shape == (3, 7, 3)
    for row in range(3):
        moving = np.flatnonzero(np.ptp(t[row], axis=0) > 0)
        assert moving.tolist() == [row]
        np.testing.assert_allclose(t[row, [0, -1], row], center[row] + np.array([-3, 3]) * scale[row])
        np.testing.assert_allclose(t[row, 3], center)               # the middle column is the centre
    assert traversal(center, scale, dims=[2]).shape == (1, 9, 3)
    with pytest.raises(UserError, match="latent dimensions"):
        traversal(center, scale, dims=[3])


def test_manifold_grid_spans_the_occupied_percentiles():
    rng = np.random.default_rng(0)
    codes = np.column_stack([rng.normal(5, 2, 5000), rng.normal(-1, 0.5, 5000)])
    codes[0] = [1000.0, 1000.0]                                     # an outlier must not stretch the grid
    grid, xs, ys = manifold_grid(codes, n=6, percentiles=(1, 99))
    assert grid.shape == (36, 2)
    lo, hi = np.percentile(codes, [1, 99], axis=0)
    np.testing.assert_allclose([xs[0], xs[-1]], [lo[0], hi[0]])
    np.testing.assert_allclose([ys[0], ys[-1]], [hi[1], lo[1]])    # top row = largest y
    np.testing.assert_allclose(grid[:6, 1], hi[1])                  # row-major, first row at the top
    np.testing.assert_allclose(grid[::6, 0], lo[0])
    with pytest.raises(UserError, match="2-d latent"):
        manifold_grid(np.zeros((10, 3)))


def test_class_means_match_numpy_and_mark_empty_classes():
    rng = np.random.default_rng(1)
    codes = rng.standard_normal((100, 3))
    labels = rng.integers(0, 3, 100)
    m = class_means(codes, labels, n_classes=4)
    for c in range(3):
        np.testing.assert_allclose(m[c], codes[labels == c].mean(0))
    assert np.isnan(m[3]).all()
