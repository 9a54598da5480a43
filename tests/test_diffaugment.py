"""DiffAugment: differentiable color / translation / cutout on batches in [-1, 1]."""

from __future__ import annotations

import pytest
import torch

from ganaug.gan.diffaugment import POLICIES, DiffAugment, color, cutout, translation


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_policies():
    assert set(POLICIES) == {"color", "translation", "cutout"}


@pytest.mark.parametrize("policies", [["color"], ["translation"], ["cutout"], ["color", "translation", "cutout"]])
@pytest.mark.parametrize("shape", [(4, 1, 16, 16), (3, 3, 32, 32)])
def test_shape_and_dtype_are_kept(policies, shape):
    x = torch.rand(shape) * 2 - 1
    y = DiffAugment(policies)(x)
    assert y.shape == x.shape and y.dtype == x.dtype


def test_no_policies_is_the_identity():
    augment = DiffAugment([])
    assert not augment
    assert DiffAugment(["color"])
    x = torch.rand(4, 3, 16, 16)
    assert augment(x) is x


def test_unknown_policy_raises():
    with pytest.raises(ValueError, match="blur"):
        DiffAugment(["color", "blur"])


def test_translation_shifts_content_and_fills_zeros():
    x = torch.full((64, 1, 16, 16), 0.7)
    y = translation(x)
    assert torch.all((y == 0.7) | (y == 0))
    zeros_per_sample = (y == 0).flatten(1).sum(dim=1)
    # A shift is (0, 0) with probability 1/25: most samples must show a zero border.
    assert (zeros_per_sample > 0).float().mean() > 0.7
    # Shifts are at most 1/8 of the size: never more than 2 rows and 2 columns are lost.
    assert zeros_per_sample.max() <= 16 * 16 - 14 * 14


def _shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """out[y, x] = image[y + dy, x + dx], zero where that is outside."""
    h, w = image.shape[-2:]
    out = torch.zeros_like(image)
    ys = slice(max(0, -dy), min(h, h - dy))
    xs = slice(max(0, -dx), min(w, w - dx))
    ys_src = slice(ys.start + dy, ys.stop + dy)
    xs_src = slice(xs.start + dx, xs.stop + dx)
    out[..., ys, xs] = image[..., ys_src, xs_src]
    return out


def test_translation_is_an_exact_shift_of_every_channel():
    x = (torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).view(2, 3, 16, 16) + 1).repeat(16, 1, 1, 1)
    y = translation(x)
    shifts = set()
    for i in range(len(x)):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if torch.equal(y[i], _shifted(x[i], dy, dx))]
        assert len(matches) == 1, f"sample {i} is not a whole-image shift of up to 2 pixels"
        shifts.add(matches[0])
    assert len(shifts) > 3  # shifts are drawn per sample


def _zero_box(mask: torch.Tensor) -> tuple[int, int, int]:
    """(height, width, count) of the bounding box of True values in a 2-d mask."""
    rows = mask.any(dim=1).nonzero().flatten()
    cols = mask.any(dim=0).nonzero().flatten()
    if len(rows) == 0:
        return 0, 0, 0
    h, w = int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
    return h, w, int(mask.sum())


def test_cutout_zeroes_one_square_of_at_most_half_the_size():
    x = torch.ones(64, 3, 16, 16)
    y = cutout(x)
    assert torch.all((y == 0) | (y == 1))
    # The hole goes through all channels.
    assert torch.all(y == y[:, :1])
    with_hole = 0
    for i in range(len(y)):
        mask = y[i, 0] == 0
        h, w, count = _zero_box(mask)
        assert h <= 8 and w <= 8
        assert count == h * w, "the zeros must fill an axis-aligned rectangle"
        assert count <= 64
        with_hole += count > 0
    assert with_hole > 0.7 * len(y)
    # Holes sit in different places in different samples.
    assert len({tuple((y[i, 0] == 0).nonzero()[0].tolist()) for i in range(len(y)) if (y[i, 0] == 0).any()}) > 3


def test_cutout_keeps_pixels_outside_the_hole():
    x = torch.rand(8, 1, 16, 16) + 0.5  # no zeros in the input
    y = cutout(x)
    kept = y != 0
    assert torch.equal(y[kept], x[kept])


def test_color_changes_values_per_sample():
    x = torch.rand(16, 3, 16, 16) * 2 - 1
    y = color(x)
    assert not torch.allclose(x, y)
    change = (y - x).flatten(1).abs().mean(dim=1)
    assert len(set(change.tolist())) == 16  # each sample draws its own factors


def test_color_shifts_brightness_by_at_most_half():
    x = torch.zeros(256, 1, 4, 4)  # grey, flat: saturation and contrast do nothing
    y = color(x)
    assert torch.all(y == y[:, :, :1, :1])
    offsets = y[:, 0, 0, 0]
    assert offsets.min() >= -0.5 and offsets.max() <= 0.5
    assert offsets.min() < -0.3 and offsets.max() > 0.3


@pytest.mark.parametrize("policies", [["color"], ["translation"], ["cutout"], ["color", "translation", "cutout"]])
def test_gradients_flow_through_the_augmentation(policies):
    x = (torch.rand(4, 3, 16, 16) * 2 - 1).requires_grad_(True)
    y = DiffAugment(policies)(x)
    assert y.requires_grad
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None
    assert torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


# ---------------------------------------------------------------- ADA's strength p


def _stream(seed: int = 3) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_strength_zero_leaves_every_image_unchanged():
    x = torch.rand(16, 3, 16, 16) * 2 - 1
    y = DiffAugment(["color", "translation", "cutout"], _stream(), strength=torch.tensor(0.0))(x)
    assert torch.equal(y, x)


def test_strength_one_is_the_always_on_diffaugment():
    x = torch.rand(16, 3, 16, 16) * 2 - 1
    always = DiffAugment(["color", "translation", "cutout"], _stream())(x)
    assert not torch.equal(always, x)
    assert torch.equal(DiffAugment(["color", "translation", "cutout"], _stream(), strength=torch.tensor(1.0))(x),
                       always)


def test_strength_picks_images_independently_and_reads_p_when_called():
    x = torch.rand(256, 1, 16, 16) + 0.5  # no zeros: an image with a hole is one cutout reached
    p = torch.tensor(0.0)
    augment = DiffAugment(["cutout"], _stream(), strength=p)
    p.fill_(0.25)  # ADA moves p in place; DiffAugment holds the tensor
    y = augment(x)
    changed = (y != x).flatten(1).any(dim=1)
    assert torch.equal(y[~changed], x[~changed])
    assert 0.15 < changed.float().mean() < 0.35


def test_gradients_flow_through_a_partial_strength():
    x = (torch.rand(8, 3, 16, 16) * 2 - 1).requires_grad_(True)
    y = DiffAugment(["color", "translation"], _stream(), strength=torch.tensor(0.5))(x)
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
