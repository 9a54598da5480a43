"""Memorisation metric on inputs with known answers."""

import numpy as np
import pytest
import torch

from ganaug.metrics import measure_memorisation, nearest_neighbours


def test_nearest_neighbours_match_brute_force_across_chunks():
    g = torch.Generator().manual_seed(0)
    queries, reference = torch.randn(37, 5, generator=g), torch.randn(23, 5, generator=g)
    dist, index = nearest_neighbours(queries, reference, chunk=8)
    full = torch.cdist(queries, reference)
    assert torch.equal(index, full.argmin(1))
    assert torch.allclose(dist, full.min(1).values)


def test_exclude_self_ignores_each_rows_own_zero_distance():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    dist, index = nearest_neighbours(x, x, exclude_self=True, chunk=3)
    assert dist.tolist() == [1.0, 1.0, 2.0, 4.0]
    assert index.tolist() == [1, 0, 1, 2]


def test_exact_copies_are_all_near_copies_and_point_at_their_source():
    g = torch.Generator().manual_seed(1)
    train = torch.randint(0, 256, (200, 1, 8, 8), dtype=torch.uint8, generator=g)
    picks = torch.randperm(200, generator=g)[:50]
    memo = measure_memorisation(train[picks], train)
    assert memo.near_copy_fraction() == 1.0
    assert np.all(memo.generated_ratio < 0.01)  # zero up to cdist's matrix-product rounding
    assert np.array_equal(memo.nearest_train, picks.numpy())


def test_fresh_samples_of_the_same_distribution_look_like_held_out_data():
    g = torch.Generator().manual_seed(2)
    train, generated, heldout = (torch.randn(n, 16, generator=g) for n in (500, 300, 300))
    summary = measure_memorisation(generated, train, heldout).summary()
    assert summary.generated_near_copy_fraction == 0.0
    assert summary.generated_median_ratio == pytest.approx(summary.heldout_median_ratio, rel=0.15)


def test_samples_far_from_the_data_have_large_ratios():
    g = torch.Generator().manual_seed(3)
    train = torch.randn(300, 16, generator=g)
    memo = measure_memorisation(torch.randn(100, 16, generator=g) + 10, train)
    assert memo.near_copy_fraction() == 0.0
    assert np.median(memo.generated_ratio) > 5


def test_a_training_set_of_duplicates_is_refused():
    with pytest.raises(ValueError, match="duplicates"):
        measure_memorisation(torch.zeros(4, 3), torch.zeros(10, 3))


# --- distribution metrics: FID, KID, precision/recall/density/coverage ---------------------------------------------

from ganaug.errors import DataError  # noqa: E402
from ganaug.metrics.distribution import (  # noqa: E402
    NEAREST_K,
    distribution_scores,
    frechet_distance,
    kernel_distance,
    manifold_scores,
)


def _gaussian(n: int, dim: int, shift: float, seed: int) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def test_identical_sets_score_as_identical():
    x = _gaussian(400, 6, 0.0, 0)
    scores = distribution_scores(x, x.clone())
    assert scores["fid"] == pytest.approx(0.0, abs=1e-6)
    assert abs(scores["kid"]) < 0.05  # KID is an unbiased estimate, so it scatters around 0 rather than hitting it
    assert scores["precision"] == scores["recall"] == scores["coverage"] == 1.0
    assert scores["density"] == pytest.approx(1.0, abs=0.05)


def test_fid_of_shifted_gaussians_is_the_squared_mean_shift():
    """Equal covariances: FID = |mu_1 - mu_2|^2, here 4 dims shifted by 1.5 each = 9."""
    real, fake = _gaussian(20000, 4, 0.0, 1), _gaussian(20000, 4, 1.5, 2)
    assert frechet_distance(real, fake) == pytest.approx(9.0, rel=0.03)
    assert frechet_distance(real, _gaussian(20000, 4, 0.0, 3)) < 0.01


def test_kid_grows_with_the_shift_and_is_reproducible_by_seed():
    real, same = _gaussian(600, 8, 0.0, 4), _gaussian(600, 8, 0.0, 11)
    near, far = _gaussian(600, 8, 0.2, 5), _gaussian(600, 8, 1.0, 6)
    assert kernel_distance(real, near, seed=1) == kernel_distance(real, near, seed=1)
    assert abs(kernel_distance(real, same)[0]) < 0.01 < kernel_distance(real, near)[0] < kernel_distance(real, far)[0]


def test_disjoint_sets_have_no_precision_recall_or_coverage():
    scores = manifold_scores(_gaussian(300, 5, 0.0, 7), _gaussian(300, 5, 50.0, 8))
    assert scores == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_a_collapsed_generator_keeps_precision_but_loses_recall():
    real = _gaussian(500, 5, 0.0, 9)
    collapsed = real[:10].repeat(50, 1) + 1e-3 * _gaussian(500, 5, 0.0, 10)  # 10 modes, all real-looking
    scores = manifold_scores(real, collapsed)
    assert scores["precision"] == 1.0
    assert scores["recall"] < 0.1 and scores["coverage"] < 0.2  # the 10 copied points and their close neighbours


def test_too_few_samples_are_refused():
    with pytest.raises(DataError, match="at least"):
        frechet_distance(_gaussian(1, 3, 0, 0), _gaussian(5, 3, 0, 1))


@pytest.mark.parametrize("real", [6, 7])
def test_a_validation_split_just_too_small_for_the_nearest_neighbours_is_one_line(real):
    """prdc's k-NN radius counts each point itself: with k = 5 it needs 7 real images, and crashed on 6."""
    if real < NEAREST_K + 2:
        with pytest.raises(DataError, match="data.val_fraction"):
            manifold_scores(_gaussian(real, 4, 0, 0), _gaussian(50, 4, 0, 1))
    else:
        assert set(manifold_scores(_gaussian(real, 4, 0, 0), _gaussian(50, 4, 0, 1))) == {
            "precision", "recall", "density", "coverage"}


# --- realism score, label agreement -----------------------------------------------------------------------------

from ganaug.metrics import label_agreement  # noqa: E402
from ganaug.metrics.realism import realism_scores  # noqa: E402


def test_realism_is_high_inside_the_real_data_and_low_far_from_it():
    real = _gaussian(500, 4, 0.0, 12)
    inside, outside = _gaussian(50, 4, 0.0, 13) * 0.3, _gaussian(50, 4, 20.0, 14)
    scores_in, scores_out = realism_scores(real, inside), realism_scores(real, outside)
    assert (scores_in > 1).float().mean() > 0.9  # within some real neighbourhood
    assert (scores_out < 0.1).all()
    copies = realism_scores(real, real[:100])  # copies of the kept (denser) half of real points are "infinitely" real
    assert 0.3 < (copies > 1e6).float().mean() < 0.7


def test_label_agreement_counts_matches_per_class():
    asked = torch.tensor([0, 0, 1, 1, 1, 2])
    teacher = torch.tensor([0, 1, 1, 1, 0, 2])
    result = label_agreement(asked, teacher, 4)
    assert result.overall == pytest.approx(4 / 6)
    assert result.per_class[:3] == pytest.approx([0.5, 2 / 3, 1.0])
    assert np.isnan(result.per_class[3])  # class 3 was never asked for
