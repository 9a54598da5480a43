"""Classifiers: the registry and timm fallback, classical augmentation, and the training loop's selection."""

from itertools import pairwise

import pytest
import torch

from ganaug.classify import ClassifierSpec, TensorSet, TrainSettings, accuracy, create_classifier, train_classifier
from ganaug.classify.classic import random_affine
from ganaug.config import load_recipe
from ganaug.data import load_pool, make_split
from ganaug.errors import ConfigError


@pytest.mark.parametrize("name, outputs", [("small-cnn", 10), ("small-cnn", 11), ("resnet18", 10)])
def test_classifiers_take_the_data_shape(name, outputs):
    model = create_classifier(name, ClassifierSpec(in_chans=1, num_classes=outputs, image_size=16))
    assert model(torch.randn(2, 1, 16, 16)).shape == (2, outputs)


def test_unknown_classifier_names_the_choices():
    with pytest.raises(ConfigError, match="unknown classifier 'resnet9000'; use small-cnn or a timm model name"):
        create_classifier("resnet9000", ClassifierSpec(1, 10, 16))


def test_random_affine_moves_pixels_per_image_and_keeps_the_range():
    x = torch.rand(8, 1, 16, 16) * 2 - 1
    out = random_affine(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.min() >= -1 - 1e-5 and out.max() <= 1 + 1e-5
    assert not torch.allclose(out, x)
    identity = random_affine(x, torch.Generator().manual_seed(0), degrees=0, translate=0, scale=(1, 1))
    torch.testing.assert_close(identity, x, atol=1e-5, rtol=0)
    same = x[:1].expand(4, -1, -1, -1)
    moved = random_affine(same, torch.Generator().manual_seed(1))
    assert not torch.allclose(moved[0], moved[1]), "each image gets its own transform"


def test_training_learns_digits_and_keeps_the_best_validation_epoch():
    recipe, _ = load_recipe("digits", ["data.image_size=16"])
    pool = load_pool(recipe.data)
    split = make_split(pool, 0.15, 0.15)
    train, val = torch.tensor(split.train), torch.tensor(split.val)
    torch.manual_seed(0)
    model = create_classifier("small-cnn", ClassifierSpec(1, 10, 16))
    result = train_classifier(model, TensorSet.real(pool.images[train], pool.labels[train], 10), pool.images[val],
                              pool.labels[val], TrainSettings(epochs=3, lr=3e-3), real_classes=10)
    best = max(result.history, key=lambda row: (row["val_accuracy"], -row["val_loss"]))
    assert result.best_epoch == best["epoch"] and result.val_accuracy == best["val_accuracy"]
    assert result.val_accuracy > 0.6
    assert accuracy(result.model, pool.images[val], pool.labels[val], 10) == pytest.approx(result.val_accuracy)


def test_an_epoch_is_a_full_pass_or_twenty_batches_whichever_is_more():
    from ganaug.classify.train import MIN_BATCHES_PER_EPOCH, _epoch_batches

    small = _epoch_batches(100, 64, torch.Generator().manual_seed(0))
    assert len(small) == MIN_BATCHES_PER_EPOCH and all(len(b) == 64 for b in small)
    assert set(torch.cat(small).tolist()) == set(range(100))
    large = _epoch_batches(3000, 64, torch.Generator().manual_seed(0))
    assert len(large) == 47 and sorted(torch.cat(large).tolist()) == list(range(3000))


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_the_learning_rate_schedule_decays_to_zero_or_stays(schedule, monkeypatch):
    """Cosine decays the rate to about 0 by the last epoch, so the chosen epoch is not one lucky swing."""
    rates = []
    real_step = torch.optim.AdamW.step

    def record(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", record)
    images = torch.randint(0, 256, (64, 1, 16, 16), dtype=torch.uint8)
    labels = torch.arange(64) % 4
    train_classifier(create_classifier("small-cnn", ClassifierSpec(1, 4, 16)), TensorSet.real(images, labels, 4),
                     images, labels, TrainSettings(epochs=3, lr=1e-3, patience=10, schedule=schedule), real_classes=4)
    assert len(rates) == 3 * 20 and rates[0] == pytest.approx(1e-3)
    if schedule == "cosine":
        assert rates[-1] < 1e-5 and all(a >= b for a, b in pairwise(rates))
    else:
        assert set(rates) == {1e-3}


def test_an_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="schedule must be one of cosine, constant"):
        TrainSettings(schedule="linear")
