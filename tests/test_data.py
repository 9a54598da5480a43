"""Data sources, splits and in-memory batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ganaug.config import DataConfig
from ganaug.data import ImagePool, InMemoryBatches, Split, load_pool, make_split
from ganaug.errors import DataError


@pytest.fixture(scope="module")
def digits16() -> ImagePool:
    return load_pool(DataConfig(source="digits", image_size=16))


# ---------------------------------------------------------------- bundled sources


def test_digits_source(digits16):
    pool = digits16
    assert pool.images.shape == (1797, 1, 16, 16)
    assert pool.images.dtype == torch.uint8 and pool.labels.dtype == torch.int64
    assert pool.class_names == [str(c) for c in range(10)]
    assert pool.num_classes == 10 and pool.channels == 1 and pool.image_size == 16
    assert sorted(pool.labels.unique().tolist()) == list(range(10))
    assert pool.images.max() == 255 and pool.images.min() == 0  # 0..16 scaled to the full range
    assert pool.official_test is None


@pytest.mark.parametrize("size", [16, 32, 64])
def test_digits_resized_to_image_size(size):
    pool = load_pool(DataConfig(source="digits", image_size=size))
    assert pool.images.shape == (1797, 1, size, size)


def test_channel_conversion():
    pool = load_pool(DataConfig(source="digits", image_size=16, channels=3))
    assert pool.images.shape == (1797, 3, 16, 16)
    assert torch.equal(pool.images[:, 0], pool.images[:, 2])


def test_fingerprint_identifies_pixels_and_labels(digits16):
    again = load_pool(DataConfig(source="digits", image_size=16))
    assert again.fingerprint() == digits16.fingerprint()
    bigger = load_pool(DataConfig(source="digits", image_size=32))
    assert bigger.fingerprint() != digits16.fingerprint()
    relabelled = ImagePool(digits16.images, digits16.labels.roll(1), digits16.class_names, "x")
    assert relabelled.fingerprint() != digits16.fingerprint()


def test_mnist5k_source():
    pool = load_pool(DataConfig(source="mnist5k", image_size=32))
    assert pool.images.shape == (5000, 1, 32, 32)
    assert pool.num_classes == 10
    assert torch.bincount(pool.labels).tolist() == [500] * 10
    assert pool.images.float().mean() > 10  # real strokes, not an empty array


# ---------------------------------------------------------------- splits


def test_split_is_deterministic_disjoint_and_stratified(digits16):
    split = make_split(digits16, 0.15, 0.15, seed=3)
    again = make_split(digits16, 0.15, 0.15, seed=3)
    assert split == again
    train, val, test = set(split.train), set(split.val), set(split.test)
    assert not (train & val) and not (train & test) and not (val & test)
    assert train | val | test == set(range(len(digits16.labels)))
    assert split.train == sorted(split.train)
    n = len(digits16.labels)
    assert len(test) == pytest.approx(0.15 * n, abs=2)
    assert len(val) == pytest.approx(0.15 * n, abs=2)
    labels = digits16.labels
    overall = torch.bincount(labels, minlength=10).float() / n
    for part in (split.train, split.val, split.test):
        counts = torch.bincount(labels[part], minlength=10)
        assert (counts > 0).all()
        assert torch.allclose(counts.float() / len(part), overall, atol=0.02)
    assert split.fingerprint == digits16.fingerprint()


def test_split_depends_on_the_seed(digits16):
    assert make_split(digits16, 0.15, 0.15, seed=0).train != make_split(digits16, 0.15, 0.15, seed=1).train


def test_train_per_class_caps_each_class(digits16):
    full = make_split(digits16, 0.15, 0.15, seed=0)
    capped = make_split(digits16, 0.15, 0.15, train_per_class=7, seed=0)
    counts = torch.bincount(digits16.labels[capped.train], minlength=10)
    assert counts.tolist() == [7] * 10
    assert set(capped.train) <= set(full.train)
    # the unused training images are not moved to validation or test
    assert capped.val == full.val and capped.test == full.test
    assert make_split(digits16, 0.15, 0.15, train_per_class=7, seed=0) == capped
    # a cap above a class's size keeps the whole class
    assert make_split(digits16, 0.15, 0.15, train_per_class=10_000, seed=0).train == full.train


def _pool(labels: list[int], official_test: list[bool] | None = None) -> ImagePool:
    n = len(labels)
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    mask = None if official_test is None else torch.tensor(official_test)
    return ImagePool(images, torch.tensor(labels), [f"c{i}" for i in range(max(labels) + 1)], "test", mask)


def test_official_test_split_is_respected():
    labels = [c for c in range(3) for _ in range(20)] + [c for c in range(3) for _ in range(4)]
    official = [False] * 60 + [True] * 12
    pool = _pool(labels, official)
    split = make_split(pool, 0.2, 0.5, seed=0)  # test_fraction is ignored: the source has its own
    assert split.test == list(range(60, 72))
    assert not set(split.train) & set(split.test) and not set(split.val) & set(split.test)
    assert set(split.train) | set(split.val) == set(range(60))
    assert len(split.val) == 12
    for part in (split.train, split.val):
        assert sorted(set(labels[i] for i in part)) == [0, 1, 2]


@pytest.mark.parametrize("count", [1, 2])
def test_a_class_with_too_few_images_is_a_data_error(count):
    labels = [0] * 20 + [1] * 20 + [2] * count
    with pytest.raises(DataError, match="'c2'"):
        make_split(_pool(labels), 0.15, 0.15)


def test_split_save_and_load(tmp_path, digits16):
    split = make_split(digits16, 0.15, 0.15)
    split.save(tmp_path / "split.json")
    assert Split.load(tmp_path / "split.json") == split


# ---------------------------------------------------------------- batches


def _batches_data(n: int = 10):
    images = torch.arange(n, dtype=torch.uint8).mul(25).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    return images, torch.arange(n)


def test_batches_are_scaled_to_minus_one_one():
    images, labels = _batches_data()
    images[0] = 0
    images[-1] = 255
    batches = InMemoryBatches(images, labels, batch_size=10, seed=0)
    x, y = batches.next()
    assert x.dtype == torch.float32 and x.shape == (10, 1, 4, 4)
    assert x.min() == -1 and x.max() == 1
    # each image comes with its own label
    assert torch.allclose(x[:, 0, 0, 0], (images[y][:, 0, 0, 0].float() / 127.5 - 1))


def test_every_image_once_per_epoch():
    images, labels = _batches_data(10)
    batches = InMemoryBatches(images, labels, batch_size=5, seed=1)
    epoch = torch.cat([batches.next()[1] for _ in range(2)])
    assert sorted(epoch.tolist()) == list(range(10))


def test_batch_bigger_than_the_data():
    images, labels = _batches_data(3)
    batches = InMemoryBatches(images, labels, batch_size=8, seed=0)
    x, y = batches.next()
    assert x.shape[0] == 8 and y.shape == (8,)
    assert set(y.tolist()) == {0, 1, 2}
    x2, _ = batches.next()
    assert x2.shape[0] == 8


def test_batches_depend_on_the_seed():
    images, labels = _batches_data(10)
    a = InMemoryBatches(images, labels, 4, seed=0)
    b = InMemoryBatches(images, labels, 4, seed=1)
    assert [a.next()[1].tolist() for _ in range(3)] != [b.next()[1].tolist() for _ in range(3)]


def test_batches_state_dict_reproduces_the_following_batches():
    images, labels = _batches_data(7)
    batches = InMemoryBatches(images, labels, batch_size=3, seed=5)
    for _ in range(4):  # part-way through an epoch
        batches.next()
    state = {k: v.clone() for k, v in batches.state_dict().items()}
    expected = [batches.next()[1].tolist() for _ in range(6)]
    fresh = InMemoryBatches(images, labels, batch_size=3, seed=99)
    fresh.load_state_dict(state)
    assert [fresh.next()[1].tolist() for _ in range(6)] == expected


def test_channels_last_batches():
    images = torch.randint(0, 255, (6, 3, 8, 8), dtype=torch.uint8)
    x, _ = InMemoryBatches(images, torch.zeros(6, dtype=torch.long), 4, seed=0, channels_last=True).next()
    assert x.is_contiguous(memory_format=torch.channels_last)


# ---------------------------------------------------------------- image folders


def test_image_folder_grey_png_and_jpeg(tmp_path, write_image_folder):
    root = write_image_folder(tmp_path / "imgs", {
        "cat": [("L", (16, 16), "png"), ("L", (20, 30), "jpg"), ("L", (40, 24), "png")],
        "dog": [("L", (16, 16), "png"), ("L", (64, 64), "jpeg")],
        "emu": [("L", (17, 33), "png")],
    })
    pool = load_pool(DataConfig(source="folder", root=str(root), image_size=16))
    assert pool.class_names == ["cat", "dog", "emu"]
    assert pool.images.shape == (6, 1, 16, 16)  # all grey: one channel
    assert pool.labels.tolist() == [0, 0, 0, 1, 1, 2]
    # a grey image already at the target size comes through pixel for pixel
    original = torch.from_numpy(np.array(Image.open(root / "cat" / "img0.png")))
    assert torch.equal(pool.images[0, 0], original)
    assert pool.source.startswith("folder")


def test_image_folder_any_rgb_gives_three_channels(tmp_path, write_image_folder):
    root = write_image_folder(tmp_path / "imgs", {
        "a": [("L", (16, 16), "png"), ("RGB", (24, 16), "jpg")],
        "b": [("L", (32, 32), "png"), ("RGB", (16, 16), "png")],
    })
    pool = load_pool(DataConfig(source="folder", root=str(root), image_size=16))
    assert pool.images.shape == (4, 3, 16, 16)
    # grey images become grey RGB (equal channels); the RGB png is kept exactly
    assert torch.equal(pool.images[0, 0], pool.images[0, 1])
    original = torch.from_numpy(np.array(Image.open(root / "b" / "img1.png"))).permute(2, 0, 1)
    assert torch.equal(pool.images[3], original)
    grey = load_pool(DataConfig(source="folder", root=str(root), image_size=32, channels=1))
    assert grey.images.shape == (4, 1, 32, 32)


def test_image_folder_errors(tmp_path, write_image_folder):
    with pytest.raises(DataError, match="does not exist"):
        load_pool(DataConfig(source="folder", root=str(tmp_path / "missing")))
    root = write_image_folder(tmp_path / "imgs", {"a": [("L", (16, 16), "png")]})
    (root / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        load_pool(DataConfig(source="folder", root=str(root)))
    (root / "empty").rmdir()
    (root / "a" / "x.png").write_bytes(b"definitely not a png")
    with pytest.raises(DataError, match="x.png"):
        load_pool(DataConfig(source="folder", root=str(root)))


# ---------------------------------------------------------------- torchvision files


def test_torchvision_mnist_from_idx_files(tmp_path, write_mnist):
    root = write_mnist(tmp_path / "tv", train_per_class=6, test_per_class=3)
    pool = load_pool(DataConfig(source="torchvision:MNIST", root=str(root), image_size=32))
    assert pool.images.shape == (90, 1, 32, 32)
    assert pool.num_classes == 10
    assert pool.class_names[0].startswith("0")
    assert torch.bincount(pool.labels).tolist() == [9] * 10
    # images of class c were written with values c * 20 + [0, 10)
    brightness = pool.images.float().mean(dim=(1, 2, 3))
    assert torch.equal(((brightness - 4.5) / 20).round().long(), pool.labels)
    assert pool.official_test is not None
    assert pool.official_test.tolist() == [False] * 60 + [True] * 30
    split = make_split(pool, 0.2, 0.15, seed=0)
    assert split.test == list(range(60, 90))
    assert set(split.train) | set(split.val) == set(range(60))


def test_torchvision_missing_files_do_not_download(tmp_path):
    with pytest.raises(DataError, match="not found") as info:
        load_pool(DataConfig(source="torchvision:MNIST", root=str(tmp_path / "nothing")))
    assert "download" in str(info.value)
    assert not (tmp_path / "nothing").exists()  # nothing fetched or created


def test_torchvision_unknown_class(tmp_path):
    with pytest.raises(DataError, match="Mnist"):
        load_pool(DataConfig(source="torchvision:Mnist", root=str(tmp_path)))
