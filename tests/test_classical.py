"""Strong classical baselines: the augmentation policies, the class-imbalance fixes, their strategies in the grid,
and GAN strategies judged against the best classical one (chosen on validation, Holm-corrected)."""

import math

import pandas as pd
import pytest
import torch
import torchvision.transforms.v2 as T

from ganaug.classify import ClassifierSpec, TensorSet, TrainSettings, create_classifier, train_classifier
from ganaug.classify.classic import CLASSICAL, per_image, random_affine
from ganaug.classify.train import _epoch_batches
from ganaug.data.balance import class_weights, image_weights
from ganaug.data.pixels import to_unit_range
from ganaug.errors import GanaugError
from ganaug.stages.compare.grid import build_grid, is_classical, parse_strategies
from ganaug.stages.compare.report import markdown
from ganaug.stages.compare.stats import holm, summarise


def digits_like(n: int = 8, channels: int = 1) -> torch.Tensor:
    """uint8 images with structure (a bright block off-centre on a dark ground), as policies expect."""
    images = torch.zeros(n, channels, 16, 16, dtype=torch.uint8)
    images[:, :, 3:11, 2:7] = 230
    images[:, :, 9:13, 9:14] = 120
    return images


@pytest.mark.parametrize("name", CLASSICAL.names())
def test_each_policy_moves_pixels_per_image_reproducibly_from_its_generator(name):
    policy, images = CLASSICAL.get(name), digits_like()
    out = policy(images, torch.Generator().manual_seed(0), False)
    assert out.shape == images.shape and out.dtype == torch.float32 and images.dtype == torch.uint8
    assert out.min() >= -1 and out.max() <= 1
    assert not torch.equal(out, to_unit_range(images)), "the policy changes the images"
    assert len({tuple(image.flatten().tolist()) for image in out}) > 1, "each image draws its own operations"
    global_state = torch.get_rng_state()
    torch.manual_seed(123)  # the caller's RNG plays no part
    again = policy(images, torch.Generator().manual_seed(0), False)
    assert torch.equal(out, again), "the same seed gives the same augmented batch"
    assert not torch.equal(out, policy(images, torch.Generator().manual_seed(1), False))
    torch.set_rng_state(global_state)


@pytest.mark.parametrize("name", ["trivialaugment", "randaugment"])
def test_torchvision_policies_work_on_uint8_images(name):
    """Their output is a uint8 image in [-1, 1]: exactly one of the 256 grey levels."""
    out = CLASSICAL.get(name)(digits_like(16, channels=3), torch.Generator().manual_seed(0), True)
    levels = (out + 1) * 127.5
    torch.testing.assert_close(levels, levels.round(), atol=1e-4, rtol=0)


def test_classic_keeps_its_numbers():
    """`classic` is today's random affine on [-1, 1] images, drawing from the generator exactly as before."""
    images = digits_like()
    for flip in (False, True):
        expected = random_affine(to_unit_range(images), torch.Generator().manual_seed(5), flip=flip)
        assert torch.equal(CLASSICAL.get("classic")(images, torch.Generator().manual_seed(5), flip), expected)


def test_mirror_flips_only_when_asked():
    """Grey images are trained with flip=False (tests/test_compare.py); neither torchvision policy mirrors on
    its own (no flip among their operations), and per_image mirrors only with flip=True."""
    for transform in (T.TrivialAugmentWide(), T.RandAugment()):
        assert not [op for op in transform._AUGMENTATION_SPACE if "flip" in op.lower()]
    identity = per_image(lambda image: image)
    images = digits_like(32)
    assert torch.equal(identity(images, torch.Generator().manual_seed(0), False), to_unit_range(images))
    flipped = identity(images, torch.Generator().manual_seed(0), True)
    mirrored = [torch.equal(f, to_unit_range(i).flip(-1)) for f, i in zip(flipped, images, strict=True)]
    kept = [torch.equal(f, to_unit_range(i)) for f, i in zip(flipped, images, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True)) and 8 < sum(mirrored) < 24


def test_the_training_loop_applies_the_policy_to_uint8_training_batches_only():
    calls = []

    def spy(images, generator, flip):
        calls.append((images.dtype, flip))
        return to_unit_range(images)

    images, labels = digits_like(32), torch.arange(32) % 4
    with CLASSICAL.temporarily("spy", spy):
        train_classifier(create_classifier("small-cnn", ClassifierSpec(1, 4, 16)), TensorSet.real(images, labels, 4),
                         images, labels, TrainSettings(epochs=1, batch_size=8, classic="spy", flip=True),
                         real_classes=4)
    assert calls == [(torch.uint8, True)] * 20  # every training batch, none of the validation ones


def test_unknown_policy_or_fix_is_refused():
    with pytest.raises(GanaugError, match="unknown classical augmentation 'autoaugment'; choose one of: classic"):
        TrainSettings(classic="autoaugment")
    with pytest.raises(ValueError, match="rebalance must be one of oversample, reweight or None"):
        TrainSettings(rebalance="smote")


def test_class_weights_are_inverse_to_frequency_and_average_one():
    labels = torch.tensor([0] * 6 + [1] * 2 + [3] * 2)  # class 2 has no image
    weights = class_weights(labels)
    torch.testing.assert_close(weights, torch.tensor([10 / 18, 10 / 6, 0, 10 / 6]))
    assert weights[labels].mean().item() == pytest.approx(1.0)


def test_oversample_draws_the_minority_class_as_often_as_the_majority_in_as_many_batches():
    labels = torch.tensor([0] * 90 + [1] * 10)
    plain = _epoch_batches(100, 16, torch.Generator().manual_seed(0))
    real = torch.zeros(100, dtype=torch.bool)
    drawn = _epoch_batches(100, 16, torch.Generator().manual_seed(0), oversampled=(labels, real))
    assert len(drawn) == len(plain) == 20 and all(len(b) == 16 for b in drawn)
    counts = torch.bincount(labels[torch.cat(drawn)], minlength=2)
    assert 130 < counts[1] < 190, counts  # 320 draws, half of them from the 10 minority images
    assert torch.bincount(labels[torch.cat(plain)], minlength=2)[1] < 50


def test_oversampling_real_and_synthetic_images_balances_each_and_keeps_their_shares():
    """Three real images of class 1 beside 60 of class 0, and 100 synthetic ones of each class: oversampled
    together, the 3 real ones would get 3 % of class 1's draws; oversampled apart, half of them."""
    labels = torch.tensor([0] * 60 + [1] * 3 + [0] * 100 + [1] * 100)
    synthetic = torch.tensor([False] * 63 + [True] * 200)
    weights = image_weights(labels, synthetic)
    real_share = weights[~synthetic].sum() / weights.sum()
    assert real_share.item() == pytest.approx(63 / 263)  # each group keeps its share of the draws
    assert weights[60:63].sum().item() == pytest.approx(weights[:60].sum().item())  # balanced within the real
    assert weights[163:].sum().item() == pytest.approx(weights[63:163].sum().item())  # and within the synthetic
    torch.testing.assert_close(image_weights(labels, torch.zeros(263, dtype=torch.bool)), image_weights(labels))
    together = image_weights(labels)
    assert together[60:63].sum() / together[labels == 1].sum() == pytest.approx(3 / 103)


@pytest.mark.parametrize("rebalance", ["oversample", "reweight"])
def test_the_training_loop_rebalances_the_real_images(rebalance):
    """The loss sees minority images as often as majority ones (oversample), or their targets (hence their
    cross-entropy) scaled by the class weight (reweight)."""
    seen = []

    def loss(logits, targets, synthetic):
        seen.append(targets)
        return torch.nn.functional.cross_entropy(logits, targets)

    images, labels = digits_like(40), torch.tensor([0] * 36 + [1] * 4)
    train_classifier(create_classifier("small-cnn", ClassifierSpec(1, 2, 16)), TensorSet.real(images, labels, 2),
                     images, labels, TrainSettings(epochs=1, batch_size=8, rebalance=rebalance), real_classes=2,
                     loss_fn=loss)
    targets = torch.cat(seen)
    if rebalance == "oversample":
        assert 50 < (targets.argmax(1) == 1).sum() < 110  # of 160 draws; about 16 without oversampling
    else:
        weights = targets.sum(1)
        torch.testing.assert_close(weights[targets.argmax(1) == 1], torch.full_like(weights[targets.argmax(1) == 1],
                                                                                     40 / 8))
        torch.testing.assert_close(weights[targets.argmax(1) == 0], torch.full_like(weights[targets.argmax(1) == 0],
                                                                                     40 / 72))
    if rebalance == "reweight":  # oversample balances synthetic images too (test_compare_uses)
        synthetic = TensorSet(images, TensorSet.real(images, labels, 2).targets, torch.ones(40, dtype=torch.bool))
        with pytest.raises(ValueError, match="for real images only"):
            train_classifier(create_classifier("small-cnn", ClassifierSpec(1, 2, 16)), synthetic, images, labels,
                             TrainSettings(epochs=1, rebalance=rebalance), real_classes=2)


def test_strategies_parse_policies_fixes_and_combinations():
    assert parse_strategies("trivialaugment,randaugment,oversample,reweight+classic,uniform+trivialaugment,"
                            "conditional+randaugment,oversample+trivialaugment") == [
        ("baseline", "trivialaugment"), ("baseline", "randaugment"), ("oversample", None), ("reweight", "classic"),
        ("uniform", "trivialaugment"), ("conditional", "randaugment"), ("oversample", "trivialaugment")]
    for bad in ("cas+classic", "baseline+classic", "oversample+reweight", "uniform+oversample", "classic+uniform"):
        with pytest.raises(GanaugError, match="unknown strategy"):
            parse_strategies(bad)
    cells = build_grid(parse_strategies("oversample+trivialaugment,reweight,uniform+randaugment"), [0.5, 1.0], 1)
    assert [c.key for c in cells] == ["oversample+trivialaugment|0|0", "reweight|0|0", "uniform+randaugment|0.5|0",
                                      "uniform+randaugment|1|0"]
    assert [(c.uses_gan, c.rebalance) for c in cells] == [(False, "oversample"), (False, "reweight"),
                                                          (True, None), (True, None)]
    assert [is_classical(c.name) for c in cells] == [True, True, False, False]


def test_classic_cells_keep_their_names_and_keys():
    """Existing runs.csv files resume: the cells of `classic` and `X+classic` are keyed as before."""
    cells = build_grid(parse_strategies("baseline,classic,uniform+classic,trivialaugment"), [0.5], [3])
    assert [c.key for c in cells] == ["baseline|0|3", "classic|0|3", "uniform+classic|0.5|3", "trivialaugment|0|3"]
    assert all(parse_strategies([c.name]) == [(c.strategy, c.classic)] for c in cells)


def test_help_and_errors_read_the_policy_registry(cli, monkeypatch):
    monkeypatch.setitem(CLASSICAL._entries, "my-policy", CLASSICAL.get("classic"))
    assert "my-policy" in " ".join(cli(["compare", "--help"]).output.split())
    with pytest.raises(GanaugError, match="my-policy"):
        parse_strategies("nope")
    assert parse_strategies("soft+my-policy") == [("soft", "my-policy")]


def fabricated_runs() -> pd.DataFrame:
    """trivialaugment is best on validation but worst on test of the classical strategies; classic the reverse."""
    rows = []
    for strategy, ratio, val, test in [("baseline", 0.0, 0.80, 0.70), ("trivialaugment", 0.0, 0.90, 0.60),
                                       ("classic", 0.0, 0.70, 0.90), ("uniform", 1.0, 0.50, 0.65),
                                       ("uniform+classic", 1.0, 0.60, 0.92)]:
        for seed, noise in enumerate((0.0, 0.01, -0.02)):
            bump = noise * (2 if strategy == "uniform+classic" else 1)
            rows.append({"strategy": strategy, "ratio": ratio, "seed": seed, "val_accuracy": val + noise,
                         "test_accuracy": test + bump})
    return pd.DataFrame(rows)


def test_the_best_classical_baseline_is_chosen_on_validation_not_test():
    summary = summarise(fabricated_runs()).set_index("strategy")
    assert set(summary["best_classical"].dropna()) == {"trivialaugment"}
    assert summary.loc[["baseline", "classic", "trivialaugment"], "vs_best_classical"].isna().all()
    uniform = summary.loc["uniform+classic"]
    diff = pd.Series([0.32, 0.33, 0.30])  # against trivialaugment's test accuracy (0.60), not classic's (0.90)
    assert uniform["vs_best_classical"] == pytest.approx(diff.mean())
    from scipy import stats

    half = stats.t.ppf(0.975, 2) * diff.std() / math.sqrt(3)
    assert uniform["vs_best_classical_ci95_low"] == pytest.approx(diff.mean() - half)
    assert uniform["vs_best_classical_ci95_high"] == pytest.approx(diff.mean() + half)
    raw = [summary.loc[s, "p_vs_best_classical"] for s in ("uniform", "uniform+classic")]
    assert list(summary.loc[["uniform", "uniform+classic"], "p_holm_vs_best_classical"]) == pytest.approx(holm(raw))
    assert "vs_baseline" in summary and "vs_classic" in summary  # the fixed references stay
    text = markdown(summary.reset_index(), "fabricated")
    assert "Best classical baseline: **trivialaugment**" in text and "chosen on mean validation accuracy" in text
    assert "Holm-Bonferroni corrected over the 2 rows compared" in text and "| vs best classical |" in text


def test_holm_correction_by_hand():
    p = [0.01, 0.04, 0.03, math.nan, 0.005]
    # sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> 0.06 (kept non-decreasing)
    adjusted = holm(p)
    assert adjusted[:3] + adjusted[4:] == pytest.approx([0.03, 0.06, 0.06, 0.02]) and math.isnan(adjusted[3])
    assert holm([0.6, 0.5]) == pytest.approx([1.0, 1.0]) and holm([]) == []


def test_significance_against_the_best_classical_is_after_holm():
    """Three GAN rows with raw p < 0.05 each (0.0003, 0.034, 0.040): after Holm (x3, x2, x1, kept non-decreasing:
    0.0008, 0.069, 0.069) only the strongest stays significant."""
    rows = []
    for seed, accuracies in enumerate([(0.50, 0.60, 0.56, 0.56), (0.52, 0.61, 0.59, 0.60), (0.55, 0.66, 0.61, 0.63),
                                       (0.51, 0.60, 0.52, 0.52)]):
        rows += [{"strategy": strategy, "ratio": 1.0 if strategy != "baseline" else 0.0, "seed": seed,
                  "val_accuracy": 0.5, "test_accuracy": accuracy}
                 for strategy, accuracy in zip(("baseline", "soft", "extra", "uniform"), accuracies, strict=True)]
    summary = summarise(pd.DataFrame(rows)).set_index("strategy")
    gan = [name for name in summary.index if name != "baseline"]  # soft, extra, uniform
    assert list(summary.loc[gan, "p_vs_best_classical"]) == pytest.approx([0.00026, 0.0345, 0.0400], abs=5e-5)
    assert list(summary.loc[gan, "p_holm_vs_best_classical"]) == pytest.approx([0.00078, 0.0689, 0.0689], abs=1e-4)
    assert list(summary.loc[gan, "significant_vs_best_classical"]) == [True, False, False]
    assert list(summary.loc[gan, "significant_vs_baseline"]) == [True, True, True]  # uncorrected, as before
