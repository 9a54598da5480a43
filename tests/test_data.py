"""Data sources, splits and in-memory batches."""

from __future__ import annotations

import errno
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganaug.config import DataConfig
from ganaug.data import ImagePool, InMemoryBatches, Split, load_pool, make_split
from ganaug.data.folder import decode
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


def test_class_balanced_batches_draw_every_class_equally_often():
    images, _ = _batches_data(100)
    labels = torch.tensor([0] * 90 + [1] * 9 + [2])  # a long tail: 90, 9 and 1 images

    def classes_drawn(batches: InMemoryBatches) -> list[int]:  # 60 batches of 50: 3,000 images
        return torch.bincount(labels[torch.cat([batches.next_indices() for _ in range(60)])], minlength=3).tolist()

    assert classes_drawn(InMemoryBatches(images, labels, 50, seed=0)) == [2700, 270, 30]  # 30 passes
    balanced = classes_drawn(InMemoryBatches(images, labels, 50, seed=0, class_balanced=True))
    assert all(900 <= n <= 1100 for n in balanced), balanced  # 1,000 each, give or take chance


def test_class_balanced_batches_state_dict_reproduces_the_following_batches():
    images, _ = _batches_data(12)
    labels = torch.tensor([0] * 9 + [1] * 2 + [2])
    batches = InMemoryBatches(images, labels, batch_size=5, seed=3, class_balanced=True)
    for _ in range(3):
        batches.next()
    state = {k: v.clone() for k, v in batches.state_dict().items()}
    expected = [batches.next()[0].tolist() for _ in range(5)]
    fresh = InMemoryBatches(images, labels, batch_size=5, seed=99, class_balanced=True)
    fresh.load_state_dict(state)
    assert [fresh.next()[0].tolist() for _ in range(5)] == expected


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


def _two_classes(tmp_path, write_image_folder) -> Path:
    return write_image_folder(tmp_path / "imgs", {"a": [("L", (16, 16), "png")] * 4,
                                                  "b": [("L", (16, 16), "png")] * 4})


def test_image_folder_counts_each_file_once_and_lists_skipped_files(tmp_path, write_image_folder):
    root = _two_classes(tmp_path, write_image_folder)
    os.symlink(root / "a", root / "a" / "loop")  # a folder link loop: torchvision walked it 40 levels deep
    os.symlink(root / "a" / "img0.png", root / "a" / "same.png")  # the same file twice in one class
    pool = load_pool(DataConfig(source="folder", root=str(root), image_size=16))
    assert pool.labels.tolist() == [0] * 4 + [1] * 4
    (root / "a" / "notes.txt").write_text("not an image")
    (root / "README.md").write_text("not a class")
    (root / "a" / ".DS_Store").write_bytes(b"hidden: ignored")
    (root / ".cache").mkdir()  # hidden: not a class
    pool = load_pool(DataConfig(source="folder", root=str(root), image_size=16))
    assert pool.class_names == ["a", "b"] and pool.labels.tolist() == [0] * 4 + [1] * 4
    assert pool.skipped == ("README.md", os.path.join("a", "notes.txt"))
    # the images of a nested folder are found too, after the class folder's own
    first = torch.from_numpy(np.array(Image.open(root / "b" / "img0.png")))
    (root / "b" / "more").mkdir()
    (root / "b" / "img0.png").rename(root / "b" / "more" / "img9.png")
    pool = load_pool(DataConfig(source="folder", root=str(root), image_size=16))
    assert pool.labels.tolist() == [0] * 4 + [1] * 4
    assert torch.equal(pool.images[-1, 0], first)


def test_image_folder_file_in_two_classes_is_an_error(tmp_path, write_image_folder):
    root = _two_classes(tmp_path, write_image_folder)
    os.symlink(root, root / "a" / "up")  # class a now also reaches every image of class b
    with pytest.raises(DataError, match="'b'") as info:
        load_pool(DataConfig(source="folder", root=str(root), image_size=16))
    assert "'a'" in str(info.value) and "one class" in str(info.value)


def test_image_folder_without_class_folders(tmp_path, write_image_folder):
    root = write_image_folder(tmp_path / "imgs", {"a": [("L", (16, 16), "png")]})
    (root / "a" / "img0.png").rename(root / "img0.png")
    (root / "a").rmdir()
    with pytest.raises(DataError, match="no class folders"):
        load_pool(DataConfig(source="folder", root=str(root)))


def _deny(name: str, real):
    """`real` (os.scandir or Image.open), refusing the path called `name` as the kernel would."""

    def call(path=".", *args, **kwargs):
        if Path(path).name == name:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    return call


def test_image_folder_permission_denied(tmp_path, write_image_folder, monkeypatch):
    # Tests may run as root, who can read anything, so access is denied by patching.
    root = _two_classes(tmp_path, write_image_folder)
    with monkeypatch.context() as patch:
        patch.setattr(os, "scandir", _deny("b", os.scandir))  # torchvision's os.walk silently skipped it
        with pytest.raises(DataError, match="permission denied") as info:
            load_pool(DataConfig(source="folder", root=str(root)))
    assert str(root / "b") in str(info.value)
    monkeypatch.setattr(Image, "open", _deny("img2.png", Image.open))
    with pytest.raises(DataError, match="permission denied") as info:
        load_pool(DataConfig(source="folder", root=str(root)))
    assert "img2.png" in str(info.value)


def _blank_png(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit PNG, written by hand: Pillow would hold width x height bytes in memory to write it."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = bytes(1 + (width + 7) // 8) * height  # filter byte 0 and all-black bits, row after row
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
    return path


def test_image_folder_refuses_decompression_bombs(tmp_path, write_image_folder, monkeypatch):
    root = _two_classes(tmp_path, write_image_folder)
    bomb = _blank_png(root / "a" / "bomb.png", 14000, 14000)
    assert bomb.stat().st_size < 100_000  # cheap to write, 196 million pixels to decode
    with pytest.raises(DataError, match="bomb.png") as info:  # Pillow raised DecompressionBombError
        load_pool(DataConfig(source="folder", root=str(root)))
    assert "196,000,000 pixels" in str(info.value) and "shrink" in str(info.value)
    # Between the limit and twice it, Pillow only warns, and then decoded the whole image.
    bomb.unlink()
    _blank_png(root / "b" / "big.png", 40, 40)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(DataError, match="big.png") as info:
        load_pool(DataConfig(source="folder", root=str(root)))
    assert "40 x 40 = 1,600 pixels" in str(info.value) and "shrink" in str(info.value)


def test_image_folder_16_bit_grey_png_uses_its_full_range(tmp_path):
    values = np.linspace(0, 65535, 32 * 32).round().astype(np.uint16).reshape(32, 32)
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        Image.fromarray(values).save(tmp_path / cls / "deep.png")
    assert Image.open(tmp_path / "a" / "deep.png").mode == "I;16"
    pool = load_pool(DataConfig(source="folder", root=str(tmp_path), image_size=32))
    assert pool.images.shape == (2, 1, 32, 32)  # 16-bit grey is grey
    expected = torch.from_numpy(values.astype(np.float64) * 255 / 65535)
    assert (pool.images[0, 0].double() - expected).abs().max() <= 1  # convert("RGB") clipped them at 255


def test_image_folder_refuses_float_images(tmp_path, write_image_folder):
    root = _two_classes(tmp_path, write_image_folder)
    Image.fromarray(np.full((16, 16), 0.5, dtype=np.float32)).save(root / "b" / "float.tif")
    with pytest.raises(DataError, match=r"float\.tif.*mode F \(32-bit float\).*8- or 16-bit PNG"):
        load_pool(DataConfig(source="folder", root=str(root)))


def _mode_image(mode: str) -> Image.Image:
    wide = np.array([[0, 257], [32768, 65535]], dtype=np.uint16)
    if mode in ("I;16", "I;16B", "I;16L"):
        return Image.frombytes(mode, (2, 2), wide.astype(">u2" if mode == "I;16B" else "<u2").tobytes())
    if mode == "I":
        return Image.fromarray(wide.astype(np.int32))
    return Image.fromarray(np.array([[0, 64], [128, 255]], dtype=np.uint8)).convert(mode)


@pytest.mark.parametrize("mode, channels", [("I;16", 1), ("I;16B", 1), ("I;16L", 1), ("I", 1), ("1", 1), ("L", 1),
                                            ("LA", 1), ("P", 3), ("PA", 3), ("RGB", 3), ("RGBA", 3),
                                            ("CMYK", 3), ("YCbCr", 3)])
def test_every_supported_pixel_mode_decodes_to_uint8(mode, channels):
    image = _mode_image(mode)
    assert image.mode == mode
    pixels = decode(image, "x.png")
    assert pixels.dtype == torch.uint8 and pixels.shape == (channels, 2, 2)
    if mode.startswith("I"):  # value * 255 / 65535, rounded
        assert pixels[0].tolist() == [[0, 1], [128, 255]]
    elif mode in ("L", "LA", "RGB", "RGBA", "P"):
        assert pixels[0].tolist() == [[0, 64], [128, 255]]


def test_unsupported_pixel_modes_are_refused_by_name():
    with pytest.raises(DataError, match="x.tif.*mode F \\(32-bit float\\)"):
        decode(Image.new("F", (2, 2)), "x.tif")
    with pytest.raises(DataError, match="mode HSV"):
        decode(Image.new("HSV", (2, 2)), "x.tif")
    with pytest.raises(DataError, match="outside 0..65535"):
        decode(Image.new("I", (2, 2), 70000), "x.tif")


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


def test_torchvision_damaged_files_are_not_called_missing(tmp_path, write_mnist):
    root = write_mnist(tmp_path / "tv")
    images = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[: images.stat().st_size // 2])  # a download cut short
    with pytest.raises(DataError, match="cannot be read") as info:
        load_pool(DataConfig(source="torchvision:MNIST", root=str(root)))
    message = str(info.value)
    assert "MNIST (train)" in message and "damaged" in message and "replace" in message
    assert "not found" not in message and "download" not in message
    # a file that is really missing is still asked for
    write_mnist(root)
    (root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="MNIST .* not found") as info:
        load_pool(DataConfig(source="torchvision:MNIST", root=str(root)))
    assert "put its files there or set data.download = true" in str(info.value)
