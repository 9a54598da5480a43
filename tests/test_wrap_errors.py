"""Bad arguments to the Python API (ganaug.stages.wrap): each is refused when the object is made, as one line that is
a GanaugError and the matching built-in (ValueError for a bad value, TypeError for a bad type), names the
argument and shows what was given. Valid arguments of every accepted kind still work."""

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.v2 as T
from PIL import Image
from torch.utils.data import Dataset, IterableDataset, Subset

from ganaug import (
    AugmentedDataset,
    AugmentedLoss,
    FixedStepsSampler,
    OnTheFlySynthetic,
    SyntheticDataset,
    load_split,
)
from ganaug.errors import GanaugError
from ganaug.labels import SampleInfo, create_labeller
from ganaug.stages.augment import augment
from ganaug.stages.wrap.synthetic import SyntheticSource


class Grey16(Dataset):
    """16x16 grey PIL images; labels `labels[i]` (default i % 10); `targets` only where asked for."""

    def __init__(self, n: int = 20, labels=None, targets: bool = False, transform=None) -> None:
        self.labels = list(labels) if labels is not None else [i % 10 for i in range(n)]
        self.transform = transform
        if targets:
            self.targets = list(self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        image = Image.fromarray(np.full((16, 16), i, np.uint8))
        return (self.transform(image) if self.transform else image), self.labels[i]


class FakeSource(SyntheticSource):
    """A conditional source of 10 classes with `n` 16x16 grey images, no files needed."""

    def __init__(self, n: int = 30) -> None:
        self.n, self.class_names = n, [f"c{k}" for k in range(10)]
        self.channels, self.image_size, self.conditional, self.has_teacher = 1, 16, True, False
        self.labeller = create_labeller("conditional")

    def describe(self) -> str:
        return "the fake source"

    def __len__(self) -> int:
        return self.n

    def select(self, n, quotas, rng):
        if quotas is not None and quotas.per_class is not None:
            return [cls for cls, wanted in enumerate(quotas.per_class) for _ in range(wanted)]
        return sorted(rng.choice(self.n, self.n if n is None else min(n, self.n), replace=False).tolist())

    def fetch(self, key: int):
        return torch.full((1, 16, 16), key, dtype=torch.uint8), SampleInfo(1, torch.tensor([key % 10]))


class Unreadable(Grey16):
    def __getitem__(self, i: int):
        if i == 5:
            raise OSError("image file 5 is truncated\nsecond line")
        return super().__getitem__(i)


class Stream(IterableDataset):
    def __iter__(self):
        return iter([])


def bad_labels(n: int, where: int, value, targets: bool = False) -> Grey16:
    labels = [i % 10 for i in range(n)]
    labels[where] = value
    return Grey16(labels=labels, targets=targets)


def wrapped(**kwargs):
    return lambda tmp: AugmentedDataset(kwargs.pop("real", Grey16()), kwargs.pop("synthetic", FakeSource()), **kwargs)


def on_the_fly(count=5, **kwargs):
    return lambda tmp: OnTheFlySynthetic(tmp / "no-run-needed", count, **kwargs)


NAN, INF = float("nan"), float("inf")

# (case id, make(tmp_path), expected built-in, argument named in the message, text showing what was given)
BAD = [
    ("ratio-str", wrapped(ratio="abc"), TypeError, "ratio", "'abc' (a str)"),
    ("ratio-nan", wrapped(ratio=NAN), ValueError, "ratio", "nan"),
    ("ratio-inf", wrapped(ratio=INF), ValueError, "ratio", "inf"),
    ("ratio-bool", wrapped(ratio=True), TypeError, "ratio", "True (a bool)"),
    ("ratio-negative", wrapped(ratio=-0.5), ValueError, "ratio", "-0.5"),
    ("ratio-huge", wrapped(ratio=1e300), ValueError, "ratio", "1e+300"),
    ("ratio-huge-int", wrapped(ratio=10**400), ValueError, "ratio", "10000"),
    ("ratio-tensor", wrapped(ratio=torch.tensor(0.5)), TypeError, "ratio", "tensor(0.5000)"),
    ("count-bool", wrapped(count=True), TypeError, "count", "True (a bool)"),
    ("count-float", wrapped(count=2.5), TypeError, "count", "2.5 (a float)"),
    ("count-negative", wrapped(count=-1), ValueError, "count", "-1"),
    ("count-huge", wrapped(count=2**70), ValueError, "count", str(2**70)),
    ("per_class-zero", wrapped(per_class=0), ValueError, "per_class", "0"),
    ("per_class-str", wrapped(per_class="3"), TypeError, "per_class", "'3' (a str)"),
    ("per_class-list", wrapped(per_class=[1, 2]), TypeError, "per_class", "[1, 2] (a list)"),
    ("per_class-unknown-name", wrapped(per_class={"nope": 1}), ValueError, "per_class", "'nope'"),
    ("per_class-index-out-of-range", wrapped(per_class={10: 1}), ValueError, "per_class", "10"),
    ("per_class-negative-quota", wrapped(per_class={1: -2}), ValueError, "per_class[1]", "-2"),
    ("per_class-bool-quota", wrapped(per_class={1: True}), TypeError, "per_class[1]", "True (a bool)"),
    ("per_class-float-key", wrapped(per_class={1.5: 2}), TypeError, "per_class", "1.5 (a float)"),
    ("per_class-bool-key", wrapped(per_class={True: 2}), TypeError, "per_class", "True (a bool)"),
    ("per_class-empty", wrapped(per_class={}), ValueError, "per_class", "{}"),
    ("per_class-all-zero", wrapped(per_class={0: 0}), ValueError, "per_class", "{0: 0}"),
    ("per_class-twice", wrapped(per_class={"c2": 1, 2: 1}), ValueError, "per_class", "'c2'"),
    ("ratio-and-count", wrapped(ratio=1, count=3), ValueError, "ratio", "count"),
    ("seed-negative", wrapped(seed=-1), ValueError, "seed", "-1"),
    ("seed-float", wrapped(seed=1.0), TypeError, "seed", "1.0 (a float)"),
    ("seed-str", wrapped(seed="1"), TypeError, "seed", "'1' (a str)"),
    ("labels-int", wrapped(labels=3), TypeError, "labels", "3 (an int)"),
    ("labels-unknown", wrapped(labels="nonsense"), ValueError, "labels", "'nonsense'"),
    ("labels-empty", wrapped(labels=""), ValueError, "labels", "''"),
    ("transform-str", wrapped(transform="none"), ValueError, "transform", "'none'"),
    ("transform-int", wrapped(transform=3), TypeError, "transform", "3 (an int)"),
    ("transform-class", wrapped(transform=T.ToImage), TypeError, "transform", "ToImage()"),
    ("resize-int", wrapped(resize=1), TypeError, "resize", "1 (an int)"),
    ("resize-str", wrapped(resize="yes"), TypeError, "resize", "'yes' (a str)"),
    ("synthetic-int", wrapped(synthetic=123), TypeError, "synthetic", "123 (an int)"),
    ("synthetic-none", wrapped(synthetic=None), TypeError, "synthetic", "None (a NoneType)"),
    ("real-int", wrapped(real=123), TypeError, "real", "123 (an int)"),
    ("real-path", wrapped(real="data/mnist"), TypeError, "real", "'data/mnist' (a str)"),
    ("real-iterable", wrapped(real=Stream()), TypeError, "real", "(a Stream)"),
    ("real-not-pairs", wrapped(real=[torch.zeros(1, 16, 16)] * 3), ValueError, "real item 0", "(a Tensor)"),
    ("real-unreadable", wrapped(real=Unreadable()), ValueError, "real item 5", "OSError: image file 5 is truncated"),
    ("real-empty", wrapped(real=[]), ValueError, "real", "empty"),
    ("real-label-too-big", wrapped(real=bad_labels(20, 13, 12)), ValueError, "real item 13", "label 12"),
    ("real-label-negative", wrapped(real=bad_labels(20, 4, -1)), ValueError, "real item 4", "label -1"),
    ("real-label-float", wrapped(real=bad_labels(20, 6, 2.0)), ValueError, "real item 6", "label 2.0"),
    ("real-label-str", wrapped(real=bad_labels(20, 2, "cat")), ValueError, "real item 2", "label 'cat'"),
    ("real-targets-too-big", wrapped(real=bad_labels(20, 17, 10, targets=True)), ValueError, "real item 17",
     "label 10"),
    ("real-subset-targets", wrapped(real=Subset(bad_labels(20, 7, 99, targets=True), [3, 7, 9])), ValueError,
     "real item 1", "label 99"),
    ("real-tensor-targets", wrapped(real=Subset(Subset(bad_labels(20, 5, 42, targets=True), range(2, 12)), [0, 3])),
     ValueError, "real item 1", "label 42"),
    ("synthetic-dataset-root-int", lambda tmp: SyntheticDataset(123), TypeError, "root", "123 (an int)"),
    ("synthetic-dataset-root-empty", lambda tmp: SyntheticDataset(""), ValueError, "root", "''"),
    ("synthetic-dataset-labels-list", lambda tmp: SyntheticDataset(tmp, labels=["soft"]), TypeError, "labels",
     "['soft'] (a list)"),
    ("synthetic-dataset-labels-unknown", lambda tmp: SyntheticDataset(tmp, labels="bogus"), ValueError, "labels",
     "'bogus'"),
    ("synthetic-dataset-transform", lambda tmp: SyntheticDataset(tmp, transform="auto"), TypeError, "transform",
     "'auto' (a str)"),
    ("on-the-fly-run-dir", lambda tmp: OnTheFlySynthetic(None, 5), TypeError, "run_dir", "None (a NoneType)"),
    ("on-the-fly-count-zero", on_the_fly(0), ValueError, "count", "0"),
    ("on-the-fly-count-str", on_the_fly("5"), TypeError, "count", "'5' (a str)"),
    ("on-the-fly-count-bool", on_the_fly(True), TypeError, "count", "True (a bool)"),
    ("on-the-fly-seed", on_the_fly(seed=-3), ValueError, "seed", "-3"),
    ("on-the-fly-buffer-zero", on_the_fly(buffer=0), ValueError, "buffer", "0"),
    ("on-the-fly-buffer-float", on_the_fly(buffer=2.0), TypeError, "buffer", "2.0 (a float)"),
    ("on-the-fly-checkpoint-float", on_the_fly(checkpoint=1.5), TypeError, "checkpoint", "1.5 (a float)"),
    ("on-the-fly-checkpoint-negative", on_the_fly(checkpoint=-1), ValueError, "checkpoint", "-1"),
    ("on-the-fly-checkpoint-bool", on_the_fly(checkpoint=True), TypeError, "checkpoint", "True (a bool)"),
    ("on-the-fly-device-int", on_the_fly(device=0), TypeError, "device", "0 (an int)"),
    ("on-the-fly-device-unknown", on_the_fly(device="gpu"), ValueError, "device", "'gpu'"),
    ("on-the-fly-teacher", on_the_fly(teacher="yes"), TypeError, "teacher", "'yes' (a str)"),
    ("on-the-fly-labels", on_the_fly(labels=1), TypeError, "labels", "1 (an int)"),
    ("on-the-fly-target-transform", on_the_fly(target_transform=5), TypeError, "target_transform", "5 (an int)"),
    ("loss-num-classes-zero", lambda tmp: AugmentedLoss(0), ValueError, "num_classes", "0"),
    ("loss-num-classes-float", lambda tmp: AugmentedLoss(2.0), TypeError, "num_classes", "2.0 (a float)"),
    ("loss-num-classes-bool", lambda tmp: AugmentedLoss(True), TypeError, "num_classes", "True (a bool)"),
    ("loss-weight-negative", lambda tmp: AugmentedLoss(3, synthetic_weight=-0.1), ValueError, "synthetic_weight",
     "-0.1"),
    ("loss-weight-nan", lambda tmp: AugmentedLoss(3, synthetic_weight=NAN), ValueError, "synthetic_weight", "nan"),
    ("loss-weight-inf", lambda tmp: AugmentedLoss(3, synthetic_weight=INF), ValueError, "synthetic_weight", "inf"),
    ("loss-weight-str", lambda tmp: AugmentedLoss(3, synthetic_weight="1"), TypeError, "synthetic_weight",
     "'1' (a str)"),
    ("loss-dynamic", lambda tmp: AugmentedLoss(3, dynamic="yes"), TypeError, "dynamic", "'yes' (a str)"),
    ("loss-for-dataset", lambda tmp: AugmentedLoss.for_dataset(Grey16()), TypeError, "dataset", "(a Grey16)"),
    ("sampler-dataset-int", lambda tmp: FixedStepsSampler(100, 5, 8), TypeError, "dataset", "100 (an int)"),
    ("sampler-dataset-empty", lambda tmp: FixedStepsSampler([], 5, 8), ValueError, "dataset", "empty"),
    ("sampler-steps-zero", lambda tmp: FixedStepsSampler(Grey16(), 0, 8), ValueError, "steps_per_epoch", "0"),
    ("sampler-steps-float", lambda tmp: FixedStepsSampler(Grey16(), 2.5, 8), TypeError, "steps_per_epoch",
     "2.5 (a float)"),
    ("sampler-batch-size-bool", lambda tmp: FixedStepsSampler(Grey16(), 5, True), TypeError, "batch_size",
     "True (a bool)"),
    ("sampler-too-many", lambda tmp: FixedStepsSampler(Grey16(), 2**40, 2**40), ValueError, "steps_per_epoch",
     str(2**40)),
    ("sampler-seed", lambda tmp: FixedStepsSampler(Grey16(), 5, 8, seed=-1), ValueError, "seed", "-1"),
    ("sampler-epoch", lambda tmp: FixedStepsSampler(Grey16(), 5, 8).set_epoch(-2), ValueError, "epoch", "-2"),
    ("split-part-unknown", lambda tmp: load_split(tmp, "training"), ValueError, "part", "'training'"),
    ("split-part-int", lambda tmp: load_split(tmp, 0), TypeError, "part", "0 (an int)"),
    ("split-run-dir-none", lambda tmp: load_split(None, "train"), TypeError, "run_dir", "None (a NoneType)"),
    ("split-transform", lambda tmp: load_split(tmp, "train", transform="auto"), TypeError, "transform",
     "'auto' (a str)"),
]


@pytest.mark.parametrize(("make", "builtin", "argument", "shows"), [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_a_bad_argument_is_one_clear_line_of_the_right_types(tmp_path, make, builtin, argument, shows):
    with pytest.raises(GanaugError) as caught:
        make(tmp_path)
    error = caught.value
    assert isinstance(error, builtin), f"{type(error).__name__} is not a {builtin.__name__}: {error}"
    other = TypeError if builtin is ValueError else ValueError
    assert not isinstance(error, other), f"{type(error).__name__} is also a {other.__name__}"
    message = str(error)
    assert message and "\n" not in message, message
    assert argument in message, message
    assert shows in message, message


def test_item_time_labels_and_indices_fail_clearly():
    real = Grey16(20)
    data = AugmentedDataset(real, FakeSource(), count=4)
    real.labels[3] = 10  # changed after the check: still no bare IndexError at item time
    with pytest.raises(GanaugError, match="real item 3 has the label 10") as caught:
        data[3]
    assert isinstance(caught.value, ValueError) and not isinstance(caught.value, IndexError)
    real.labels[3] = torch.tensor([1, 2])  # a target_transform that one-hot encodes, say
    with pytest.raises(GanaugError, match="real item 3 has the label tensor"):
        data[3]
    # Indices follow Python's sequence protocol: out of range is an IndexError, so iteration stops.
    for index in (len(data), -len(data) - 1):
        with pytest.raises(IndexError, match="out of range"):
            data[index]
    with pytest.raises(TypeError) as caught:
        data[1.5]
    assert isinstance(caught.value, GanaugError)
    assert data[-1][2] is True and data[np.int64(0)][2] is False
    with pytest.raises(IndexError):
        FakeSource()[30]


@pytest.fixture(scope="module")
def small_set(tiny_runs, tmp_path_factory):
    return augment(tiny_runs["conditional"], tmp_path_factory.mktemp("small") / "set", count=20,
                   progress=False).synthetic.root


class TensorLabels(Dataset):
    """Tensor images and 0-d tensor labels, with `classes` and tensor `targets` like torchvision's MNIST."""

    classes = [str(k) for k in range(10)]

    def __init__(self) -> None:
        self.targets = torch.arange(20) % 10

    def __len__(self) -> int:
        return 20

    def __getitem__(self, i):
        return torch.full((1, 16, 16), i, dtype=torch.uint8), self.targets[i]


def test_valid_arguments_of_every_accepted_kind_still_work(small_set):
    path = Path(small_set)
    synth = SyntheticDataset(path, labels="conditional", transform=None, target_transform=lambda t: t.argmax())
    assert len(synth) == 20 and synth[-1][1].ndim == 0
    with_numpy = AugmentedDataset(Grey16(20), str(small_set), ratio=np.float64(0.5), seed=np.int64(3),
                                  resize=np.bool_(False), transform=None, labels=None)
    assert with_numpy.synthetic_count == 10 and with_numpy.keys == AugmentedDataset(
        Grey16(20), path, ratio=0.5, seed=3).keys
    assert AugmentedDataset(Grey16(20), path, count=np.int32(0)).synthetic_count == 0
    assert AugmentedDataset(Grey16(20), path, count=5, transform=T.PILToTensor())[-1][0].dtype == torch.uint8
    by_name = AugmentedDataset(Grey16(20), synth, per_class={"3": np.int64(2), np.int64(5): 1, 7: 0})
    assert sorted(int(by_name[i][1].argmax()) for i in range(20, len(by_name))) == [3, 3, 5]
    assert AugmentedDataset(Grey16(20), path, per_class=1).synthetic_count == 10
    tensors = AugmentedDataset(Subset(TensorLabels(), torch.tensor([1, 12, 19])), path, count=2, transform="auto")
    assert len(tensors) == 5 and int(tensors[1][1].argmax()) == 2
    listed = AugmentedDataset([(torch.zeros(1, 16, 16, dtype=torch.uint8), np.int64(k)) for k in range(10)], path)
    assert len(listed) == 30
    loss = AugmentedLoss(np.int64(10), synthetic_weight=np.float32(0.5), dynamic=np.bool_(False))
    assert loss.num_classes == 10 and math.isclose(loss.synthetic_weight, 0.5) and loss.dynamic is False
    assert AugmentedLoss(3, synthetic_weight=0).synthetic_weight == 0
    assert AugmentedLoss.for_dataset(by_name, synthetic_weight=2).synthetic_weight == 2


def test_valid_on_the_fly_arguments_and_a_count_too_large_for_a_list(tiny_runs):
    synth = OnTheFlySynthetic(Path(tiny_runs["conditional"]), np.int64(12), seed=np.int64(2), buffer=np.int64(4),
                              checkpoint=None, device="cpu", teacher=False, transform=T.PILToTensor())
    assert len(synth) == 12 and synth[11][0].shape == (1, 16, 16)
    assert len(OnTheFlySynthetic(str(tiny_runs["conditional"]), 3, checkpoint=20)) == 3
    assert len(OnTheFlySynthetic(tiny_runs["conditional"], 3, checkpoint=f"checkpoints/step_{20:07d}")) == 3
    huge = AugmentedDataset(Grey16(20), synth, count=10**15)  # keys are worked out per index, never listed
    assert len(huge) == 20 + 10**15 and int(huge[len(huge) - 1][1].argmax()) == (10**15 - 1) % 10
    quotas = AugmentedDataset(Grey16(20), synth, per_class={"2": 3, 5: 1})
    assert [int(quotas[i][1].argmax()) for i in range(20, 24)] == [2, 2, 2, 5]
    assert pickle.loads(pickle.dumps(quotas)).keys == quotas.keys
