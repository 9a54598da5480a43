"""The Dataset wrapper and the loss: lengths, ratios, determinism, transforms, workers, on-the-fly images, errors."""

import pickle

import numpy as np
import pytest
import torch
import torchvision
import torchvision.transforms.v2 as T
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset

from ganaug import AugmentedDataset, AugmentedLoss, OnTheFlySynthetic, SyntheticDataset
from ganaug.errors import GanaugError
from ganaug.labels import LABELLERS
from ganaug.stages.augment import augment

TO_TENSOR = T.Compose([T.PILToTensor(), T.ToDtype(torch.float32, scale=True)])


class Digits16(Dataset):
    """A torchvision-style data set of 16x16 grey PIL images, labels i % classes."""

    def __init__(self, n: int = 40, classes: int = 10, size: int = 16, mode: str = "L", transform=None) -> None:
        self.n, self.size, self.mode, self.transform = n, size, mode, transform
        self.classes = [str(c) for c in range(classes)]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        image = Image.fromarray(np.full((self.size, self.size), i, np.uint8)).convert(self.mode)
        return (self.transform(image) if self.transform else image), i % len(self.classes)


@pytest.fixture(scope="module")
def sets(tiny_runs, tmp_path_factory):
    """Synthetic sets with teacher probabilities from both tiny runs."""
    import shutil

    root = tmp_path_factory.mktemp("sets")
    out = {}
    for name in ("unconditional", "conditional"):
        run = shutil.copytree(tiny_runs[name], root / f"run-{name}")
        out[name] = augment(run, root / name, count=60, labels="soft", progress=False).synthetic.root
    return out


def test_synthetic_dataset_is_torchvision_style(sets):
    synth = SyntheticDataset(sets["conditional"], labels="conditional", transform=TO_TENSOR)
    assert len(synth) == 60 and synth.num_outputs == 10
    image, target = synth[7]
    assert image.shape == (1, 16, 16) and image.dtype == torch.float32
    assert target.sum() == 1 and int(target.argmax()) == int(synth.synthset.table()["generated_for"][7])
    raw, _ = SyntheticDataset(sets["conditional"])[7]
    assert isinstance(raw, Image.Image) and raw.mode == "L" and raw.size == (16, 16)


def test_lengths_ratios_and_counts(sets):
    real = Digits16(40)
    assert len(AugmentedDataset(real, sets["unconditional"], ratio=0.5)) == 60
    assert AugmentedDataset(real, sets["unconditional"], ratio=1.5).synthetic_count == 60
    assert AugmentedDataset(real, sets["unconditional"], count=7).synthetic_count == 7
    assert AugmentedDataset(real, sets["unconditional"]).synthetic_count == 60  # the whole set by default
    assert AugmentedDataset(real, sets["unconditional"], ratio=0).synthetic_count == 0
    with pytest.raises(GanaugError, match="80 synthetic images were asked for but .* has 60"):
        AugmentedDataset(real, sets["unconditional"], ratio=2)
    with pytest.raises(GanaugError, match="at most one of ratio, count and per_class"):
        AugmentedDataset(real, sets["unconditional"], ratio=1, count=3)


def test_selection_is_without_replacement_and_reproducible_from_the_seed(sets):
    real = Digits16(40)
    a, b, c = (AugmentedDataset(real, sets["unconditional"], ratio=1, seed=s) for s in (1, 1, 2))
    assert a.keys == b.keys and a.keys != c.keys
    assert len(set(a.keys)) == len(a.keys) == 40
    assert all(torch.equal(a[i][1], b[i][1]) for i in range(len(a)))


def test_items_real_first_then_synthetic_with_flags_and_one_hot_real_targets(sets):
    data = AugmentedDataset(Digits16(40, transform=TO_TENSOR), sets["unconditional"], labels="uniform", count=10)
    flags = [data[i][2] for i in range(len(data))]
    assert flags == [False] * 40 + [True] * 10
    image, target, _ = data[13]
    assert torch.equal(target, torch.eye(10)[3])
    image, target, _ = data[45]
    assert image.shape == (1, 16, 16) and image.dtype == torch.float32  # the real data set's transform applied
    torch.testing.assert_close(target, torch.full((10,), 0.1))
    assert data[-1][2] is True


def test_per_class_quotas(sets):
    data = AugmentedDataset(Digits16(40), sets["conditional"], labels="conditional", per_class={"2": 3, 5: 1})
    classes = [int(data[i][1].argmax()) for i in range(40, len(data))]
    assert sorted(classes) == [2, 2, 2, 5]
    # Unconditional sets: the teacher's class picks the rows.
    common = int(SyntheticDataset(sets["unconditional"]).synthset.table()["teacher_class"].mode()[0])
    by_teacher = AugmentedDataset(Digits16(40), sets["unconditional"], labels="argmax", per_class={common: 2})
    assert [int(by_teacher[i][1].argmax()) for i in (40, 41)] == [common, common]
    with pytest.raises(GanaugError, match="of class '1' were asked for"):
        AugmentedDataset(Digits16(40), sets["conditional"], per_class={1: 50})


class LongTail(Digits16):
    """36 images of class 0 and 4 of class 1."""

    def __init__(self) -> None:
        super().__init__(40, classes=10)

    def __getitem__(self, i: int):
        return super().__getitem__(i)[0], int(i >= 36)


def test_oversampling_weights_balance_real_and_synthetic_items_apart(sets):
    data = AugmentedDataset(LongTail(), sets["conditional"], labels="conditional", count=40)
    weights, targets = data.oversampling_weights(), torch.tensor(data.targets)
    real, synthetic = weights[:40], weights[40:]
    assert real[36:].sum().item() == pytest.approx(real[:36].sum().item())  # the 4 class-1 images: half the real
    assert real.sum().item() == pytest.approx(weights.sum().item() / 2)  # the real items keep their share
    for c in targets[40:].unique():  # every class the synthetic items have, equally often among them
        assert synthetic[targets[40:] == c].sum().item() == pytest.approx(40 / len(targets[40:].unique()))
    drawn = list(torch.utils.data.WeightedRandomSampler(weights, 4000, generator=torch.Generator().manual_seed(0)))
    assert 800 < sum(36 <= i < 40 for i in drawn) < 1200  # a quarter of the draws: the real half's class 1
    with pytest.raises(GanaugError, match="labels that name a class.*'uniform'"):
        AugmentedDataset(LongTail(), sets["conditional"], labels="uniform", count=40).oversampling_weights()
    run = sets["conditional"].parent / "run-conditional"  # the copy augment gave a teacher
    on_the_fly = AugmentedDataset(LongTail(), OnTheFlySynthetic(run, 20), count=20)  # classes known beforehand
    assert on_the_fly.oversampling_weights()[:40].sum().item() == pytest.approx(40)
    with pytest.raises(GanaugError, match="knows it only afterwards"):
        AugmentedDataset(LongTail(), OnTheFlySynthetic(run, 20, labels="soft", teacher=True),
                         count=20).oversampling_weights()


def test_torchvision_mnist_with_every_strategy_through_workers(tmp_path, write_mnist, sets):
    root = write_mnist(tmp_path, train_per_class=4, test_per_class=1)
    transform = T.Compose([T.RandomAffine(degrees=5), T.PILToTensor(), T.ToDtype(torch.float32, scale=True)])
    real = torchvision.datasets.MNIST(str(root), train=True, transform=transform)
    for name in LABELLERS.names():
        data = AugmentedDataset(real, sets["conditional"], labels=name, ratio=0.5, resize=True)
        loader = DataLoader(data, batch_size=16, shuffle=True, num_workers=2)
        loss = AugmentedLoss.for_dataset(data)
        seen = 0
        for images, targets, synthetic in loader:
            assert images.shape[1:] == (1, 28, 28) and images.dtype == torch.float32
            assert targets.shape[1] == data.num_outputs == (11 if name == "extra" else 10)
            logits = torch.randn(len(images), data.num_outputs, requires_grad=True)
            value = loss(logits, targets, synthetic)
            value.backward()
            assert torch.isfinite(value)
            seen += int(synthetic.sum())
        assert seen == data.synthetic_count == 20, name


def test_size_channel_and_class_mismatches_are_clear(sets):
    with pytest.raises(GanaugError, match="synthetic images are 16x16 but the real data set's are 28x28.*resize=True"):
        AugmentedDataset(Digits16(size=28), sets["unconditional"])
    with pytest.warns(UserWarning, match="grey and the real data set's are RGB.*replicated to RGB"):
        rgb = AugmentedDataset(Digits16(mode="RGB"), sets["unconditional"])  # exact, so converted, not refused
    assert rgb[-1][0].mode == "RGB"
    with pytest.raises(GanaugError, match="real data set has 5 classes but .* has 10"):
        AugmentedDataset(Digits16(classes=5), sets["unconditional"])
    with pytest.raises(GanaugError, match="--labels conditional needs a conditional GAN"):
        AugmentedDataset(Digits16(), sets["unconditional"], labels="conditional")


def test_subsets_and_tensor_images_are_matched(sets):
    class Tensors(Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return torch.full((1, 16, 16), i, dtype=torch.uint8), i

    data = AugmentedDataset(Subset(Tensors(), range(5)), sets["unconditional"], count=3, transform=None)
    image, _, synthetic = data[6]
    assert synthetic and image.dtype == torch.uint8 and image.shape == (1, 16, 16)


def test_a_set_without_teacher_cannot_use_teacher_labels(tiny_runs, tmp_path):
    plain = augment(tiny_runs["unconditional"], tmp_path / "plain", count=5, progress=False).synthetic.root
    with pytest.raises(GanaugError, match="--labels soft needs teacher probabilities"):
        AugmentedDataset(Digits16(), plain, labels="soft")


class NoiseAsImage(torch.nn.Module):
    """A stand-in generator whose images are its noise, so that any two different z give different images."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, z, y=None):
        return z.repeat(1, 16).view(-1, 1, 16, 16).tanh()


def test_on_the_fly_images_are_fresh_each_epoch_and_each_worker(tiny_runs):
    synth = OnTheFlySynthetic(tiny_runs["conditional"], 40, seed=1)
    synth.generator.module = NoiseAsImage()
    data = AugmentedDataset(Digits16(20, transform=TO_TENSOR), synth, count=40)
    assert len(data) == 60
    classes = [int(data[i][1].argmax()) for i in range(20, 60)]
    assert classes == [i % 10 for i in range(40)]

    def epoch() -> torch.Tensor:
        batches = list(DataLoader(data, batch_size=15, num_workers=2))  # batches alternate between the workers
        images, synthetic = torch.cat([b[0] for b in batches]), torch.cat([b[2] for b in batches])
        return images[synthetic]

    first, second = epoch(), epoch()
    assert first.shape == (40, 1, 16, 16)
    assert not torch.equal(first, second), "each epoch draws new images"
    flat = first.flatten(1)
    assert len({tuple(row.tolist()) for row in flat}) == 40, "workers must not repeat each other's images"
    pickle.loads(pickle.dumps(data))


def test_on_the_fly_targets_are_the_classes_known_before_an_image_is_made(tiny_runs):
    conditional = AugmentedDataset(Digits16(20), OnTheFlySynthetic(tiny_runs["conditional"], 40), count=12)
    assert conditional.targets == [i % 10 for i in range(20)] + [i % 10 for i in range(12)]
    assert conditional.targets[20:] == [int(conditional[i][1].argmax()) for i in range(20, 32)]
    assert conditional.classes == [str(c) for c in range(10)]
    assert "Real: 20, synthetic: 12 (ratio 0.6, labels 'conditional')" in repr(conditional)
    for labels, target in (("uniform", -1), ("extra", 10)):  # no one class; the extra output K
        plain = AugmentedDataset(Digits16(20), OnTheFlySynthetic(tiny_runs["unconditional"], 5, labels=labels))
        assert plain.targets == [i % 10 for i in range(20)] + [target] * 5


def test_on_the_fly_needs_a_teacher_for_teacher_labels(tiny_runs):
    with pytest.raises(GanaugError, match="needs teacher probabilities"):
        OnTheFlySynthetic(tiny_runs["unconditional"], 10, labels="argmax")
    with pytest.raises(GanaugError, match="per-class quotas on the fly need a conditional run"):
        AugmentedDataset(Digits16(), OnTheFlySynthetic(tiny_runs["unconditional"], 10), per_class=2)


def test_lsro_gradient_is_softmax_minus_one_over_k():
    logits = torch.randn(3, 5, requires_grad=True)
    targets = torch.full((3, 5), 0.2)
    AugmentedLoss(5)(logits, targets, torch.ones(3, dtype=torch.bool)).backward()
    torch.testing.assert_close(logits.grad, (logits.detach().softmax(1) - 0.2) / 3)


def test_dynamic_labels_follow_the_model_and_synthetic_samples_are_weighted():
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, 0.0], [0.0, 0.0, 5.0]])
    targets = torch.tensor([[1.0, 0, 0], [0, 0, 0], [0, 0, 0]])
    synthetic = torch.tensor([False, True, True])
    loss = AugmentedLoss(3, synthetic_weight=0.1, dynamic=True)(logits, targets, synthetic)
    ce = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2]), reduction="none")
    torch.testing.assert_close(loss, (ce[0] + 0.1 * ce[1] + 0.1 * ce[2]) / 3)
    # With K + 1 outputs the extra class never wins a dynamic label.
    wide = torch.tensor([[0.0, 1.0, 9.0]])
    value = AugmentedLoss(2, dynamic=True)(wide, torch.zeros(1, 3), torch.tensor([True]))
    torch.testing.assert_close(value, torch.nn.functional.cross_entropy(wide, torch.tensor([1])))


def test_loss_for_a_dataset_uses_the_papers_weight_for_dynamic_labels(sets):
    dynamic = AugmentedLoss.for_dataset(AugmentedDataset(Digits16(), sets["unconditional"], labels="argmax-dynamic"))
    assert dynamic.dynamic and dynamic.synthetic_weight == 0.1
    plain = AugmentedLoss.for_dataset(AugmentedDataset(Digits16(), sets["unconditional"], labels="uniform"))
    assert not plain.dynamic and plain.synthetic_weight == 1.0
    assert pickle.loads(pickle.dumps(dynamic)).synthetic_weight == 0.1
