"""What a first user of the Python API ran into: comparisons at unequal optimiser steps, argmax-dynamic targets
that a plain cross-entropy trained on silently, a grey GAN refused for an RGB ImageFolder, and no way to get the
run's own split as data sets."""

import json
import shutil
import warnings

import numpy as np
import pytest
import torch
import torchvision
import torchvision.transforms.v2 as T
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

import ganaug
from ganaug import (
    AugmentedDataset,
    AugmentedLoss,
    FixedStepsSampler,
    SyntheticDataset,
    load_split,
)
from ganaug.errors import GanaugError, UsageError
from ganaug.labels import SampleInfo, create_labeller
from ganaug.runs.run_dir import RunDir
from ganaug.stages.augment import augment
from ganaug.stages.wrap.synthetic import SyntheticSource

TO_TENSOR = T.Compose([T.PILToTensor(), T.ToDtype(torch.float32, scale=True)])


class Grey16(Dataset):
    """40 16x16 grey PIL images, labels i % 10."""

    def __init__(self, transform=None) -> None:
        self.transform, self.classes = transform, [str(k) for k in range(10)]

    def __len__(self) -> int:
        return 40

    def __getitem__(self, i: int):
        image = Image.fromarray(np.full((16, 16), i, np.uint8))
        return (self.transform(image) if self.transform else image), i % 10


@pytest.fixture(scope="module")
def run_and_set(tiny_runs, tmp_path_factory):
    """A private copy of the unconditional tiny run and a 30-image synthetic set made from it."""
    root = tmp_path_factory.mktemp("first-use")
    run = shutil.copytree(tiny_runs["unconditional"], root / "run")
    return run, augment(run, root / "set", count=30, progress=False).synthetic.root


def test_the_new_names_are_exported():
    assert {"FixedStepsSampler", "load_split"} <= set(ganaug.__all__)


# ---------------------------------------------------------------- equal optimiser steps


def epochs_of(sampler: FixedStepsSampler, n: int) -> list[list[int]]:
    return [list(sampler) for _ in range(n)]


def test_fixed_steps_sampler_gives_every_set_the_same_batches_per_epoch():
    for size in (10, 40, 400):  # fewer, about as many, and many more items than one epoch draws
        loader = DataLoader(list(range(size)), batch_size=8, sampler=FixedStepsSampler(range(size), 5, 8, seed=3))
        batches = list(loader)
        assert len(batches) == 5 and all(len(b) == 8 for b in batches), size
    for epoch in epochs_of(FixedStepsSampler(range(400), 5, 8), 3):
        assert len(set(epoch)) == 40 and all(0 <= i < 400 for i in epoch)  # no image twice in an epoch
    for epoch in epochs_of(FixedStepsSampler(range(15), 5, 8), 3):
        counts = np.bincount(epoch, minlength=15)
        assert counts.sum() == 40 and counts.max() - counts.min() <= 1  # spread as evenly as possible


def test_fixed_steps_sampler_is_reproducible_and_draws_a_new_order_each_epoch():
    a, b, c = (FixedStepsSampler(range(100), 4, 10, seed=s) for s in (1, 1, 2))
    first, second = epochs_of(a, 2), epochs_of(b, 2)
    assert first == second and first != epochs_of(c, 2)
    assert first[0] != first[1]
    a.set_epoch(1)  # e.g. resuming: replays epoch 1, then goes on with epoch 2
    assert epochs_of(a, 2) == epochs_of(FixedStepsSampler(range(100), 4, 10, seed=1), 3)[1:]


# ---------------------------------------------------------------- argmax-dynamic needs AugmentedLoss


def dynamic_batch(synth):
    data = AugmentedDataset(Grey16(TO_TENSOR), synth, labels="argmax-dynamic", count=6)
    _, targets, synthetic = next(iter(DataLoader(data, batch_size=len(data))))
    return data, targets, synthetic


def test_argmax_dynamic_targets_make_plain_cross_entropy_nan_and_augmented_loss_fills_them(run_and_set):
    data, targets, synthetic = dynamic_batch(run_and_set[1])
    assert synthetic.sum() == 6 and targets[synthetic].isnan().all() and targets[~synthetic].isfinite().all()
    logits = torch.randn(len(targets), 10, generator=torch.Generator().manual_seed(0), requires_grad=True)
    assert nn.CrossEntropyLoss()(logits, targets).isnan()
    loss = AugmentedLoss.for_dataset(data)(logits, targets, synthetic)
    assert loss.isfinite()
    loss.backward()
    filled = targets.where(~synthetic.unsqueeze(1), torch.eye(10)[logits.detach().argmax(1)])
    weights = torch.where(synthetic, 0.1, 1.0).unsqueeze(1)
    torch.testing.assert_close(logits.grad, weights * (logits.detach().softmax(1) - filled) / len(targets))
    # A loss made by hand without dynamic=True still fills the NaN placeholders, at its own weight.
    by_hand = AugmentedLoss(10, synthetic_weight=0.1)(logits.detach(), targets, synthetic)
    torch.testing.assert_close(by_hand, loss.detach())
    _, target = SyntheticDataset(run_and_set[1], labels="argmax-dynamic")[0]
    assert target.shape == (10,) and target.isnan().all()


# ---------------------------------------------------------------- grey GAN, RGB data set


def test_a_grey_gan_goes_into_an_rgb_image_folder_with_one_warning(run_and_set, tmp_path, write_image_folder):
    root = write_image_folder(tmp_path / "folder", {str(k): [("RGB", (16, 16), "png")] * 2 for k in range(10)})
    real = torchvision.datasets.ImageFolder(str(root), transform=TO_TENSOR)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = AugmentedDataset(real, run_and_set[1], count=5)
        images, _, synthetic = next(iter(DataLoader(data, batch_size=len(data))))
    assert [str(w.message) for w in caught if w.category is UserWarning] == [(
        "the synthetic images are grey and the real data set's are RGB: each synthetic image's channel is "
        "replicated to RGB (exact; no retraining needed)")]
    assert images.shape == (25, 3, 16, 16) and synthetic.sum() == 5
    grey = SyntheticDataset(run_and_set[1], transform=TO_TENSOR)
    for image, key in zip(images[synthetic], data.keys, strict=True):
        torch.testing.assert_close(image, grey[key][0].expand(3, -1, -1), rtol=0, atol=0)


class RGBSource(SyntheticSource):
    """Ten classes of 16x16 colour images, no files needed."""

    def __init__(self) -> None:
        self.class_names, self.channels, self.image_size = [str(k) for k in range(10)], 3, 16
        self.conditional, self.has_teacher, self.labeller = True, False, create_labeller("conditional")

    def describe(self) -> str:
        return "the colour source"

    def __len__(self) -> int:
        return 10

    def select(self, n, quotas, rng):
        return list(range(10 if n is None else n))

    def fetch(self, key: int):
        return torch.full((3, 16, 16), key, dtype=torch.uint8), SampleInfo(1, torch.tensor([key]))


def test_rgb_synthetic_images_are_refused_for_a_grey_set_in_one_line():
    with pytest.raises(UsageError) as caught:
        AugmentedDataset(Grey16(), RGBSource())
    message = str(caught.value)
    assert "\n" not in message
    assert "3 channel(s) but the real data set's have 1" in message and "lose information" in message
    assert message.endswith("train the GAN with data.channels = 1")


# ---------------------------------------------------------------- the run's own split


def test_load_split_gives_exactly_the_runs_training_images_and_feeds_augmented_dataset(run_and_set):
    run, synthetic_set = run_and_set
    pool, split = RunDir(run).load_data()
    train = load_split(run, "train")
    assert len(train) == len(split.train) and train.classes == pool.class_names
    assert train.targets == pool.labels[split.train].tolist() and all(type(t) is int for t in train.targets)
    image, label = train[3]
    assert isinstance(image, Image.Image) and image.mode == "L" and type(label) is int
    pixels = torch.stack([T.PILToTensor()(train[i][0]) for i in range(len(train))])
    assert torch.equal(pixels, pool.images[split.train])
    assert [len(load_split(run, part)) for part in ("val", "test")] == [len(split.val), len(split.test)]

    data = AugmentedDataset(load_split(run, "train", transform=TO_TENSOR), synthetic_set, count=20)
    assert data.real_count == len(split.train) and data.synthetic_count == 20
    images, targets, synthetic = next(iter(DataLoader(data, batch_size=len(data))))
    assert images.shape == (len(data), 1, 16, 16)
    assert targets[~synthetic].argmax(1).tolist() == train.targets
    flipped = load_split(run, "val", target_transform=lambda label: 9 - label)
    assert flipped[0][1] == 9 - flipped.targets[0]


def test_load_split_test_part_of_a_torchvision_run_is_its_own_test_set(tmp_path, cli, tiny_args, write_mnist):
    root = write_mnist(tmp_path / "data", train_per_class=8, test_per_class=2)
    out = tmp_path / "run"
    result = cli(["fit", "digits", "--out", out, "--steps", 1,
                  "--set", "data.source=torchvision:MNIST", "--set", f"data.root={root}", *tiny_args()])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "split.json").read_text())["test"] == list(range(80, 100))  # offset by the train set
    test = load_split(out, "test")
    assert test.targets == torchvision.datasets.MNIST(str(root), train=False).targets.tolist()
    assert len(load_split(out, "train")) + len(load_split(out, "val")) == 80


def test_load_split_refuses_a_bad_part_in_one_line_listing_the_choices(run_and_set):
    with pytest.raises(UsageError, match=r"^part must be one of train, val, test .*not 'validation'$"):
        load_split(run_and_set[0], "validation")
    with pytest.raises(GanaugError, match="not a ganaug run directory"):
        load_split(run_and_set[1], "train")  # a synthetic set is not a run
