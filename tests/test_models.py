"""The DCGAN generator and discriminator built through the model registry, and the layers they share."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganaug.gan.layers import ConditionalNorm
from ganaug.gan.models import MODELS, DiscriminatorOutput, GanSpec, create_gan


def tiny(**kw) -> GanSpec:
    base = dict(channels=1, image_size=16, z_dim=16, g_width=8, d_width=8)
    base.update(kw)
    return GanSpec(**base)


def test_dcgan_is_registered():
    assert "dcgan" in MODELS
    with pytest.raises(KeyError, match="nope"):
        create_gan("nope", tiny())


@pytest.mark.parametrize("size", [16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shapes(size, channels):
    G, D = create_gan("dcgan", tiny(channels=channels, image_size=size))
    z = torch.randn(5, 16)
    images = G(z)
    assert images.shape == (5, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1  # tanh output
    out = D(images)
    assert isinstance(out, DiscriminatorOutput)
    assert out.score.shape == (5,)
    assert out.class_logits is None


def test_generator_depth_follows_image_size():
    """Each doubling of the image size adds one up-sampling and one down-sampling layer."""
    counts = []
    for size in (16, 32, 64):
        G, D = create_gan("dcgan", tiny(image_size=size))
        counts.append((sum(isinstance(m, nn.ConvTranspose2d) for m in G.modules()),
                       sum(isinstance(m, nn.Conv2d) for m in D.modules())))
    assert counts == [(3, 3), (4, 4), (5, 5)]


def test_conditional_models_need_labels():
    G, D = create_gan("dcgan", tiny(num_classes=4))
    z = torch.randn(3, 16)
    with pytest.raises(ValueError, match="labels"):
        G(z)
    y = torch.tensor([0, 1, 2])
    images = G(z, y)
    assert images.shape == (3, 1, 16, 16)
    with pytest.raises(ValueError, match="labels"):
        D(images)
    assert D(images, y).score.shape == (3,)


def test_conditional_generator_output_depends_on_label():
    torch.manual_seed(0)
    G, _ = create_gan("dcgan", tiny(num_classes=4))
    # Conditional batch norm starts as scale 1 / shift 0 for every class (the usual
    # init); give the per-class parameters distinct values, as training would.
    for name, p in G.named_parameters():
        if "scale" in name or "shift" in name:
            with torch.no_grad():
                p.add_(torch.randn_like(p) * 0.5)
    G.eval()  # running statistics: each image depends only on its own noise and label
    z = torch.randn(1, 16).expand(4, 16)
    images = G(z, torch.tensor([0, 1, 2, 3]))
    for a in range(4):
        for b in range(a + 1, 4):
            assert not torch.allclose(images[a], images[b], atol=1e-4), (a, b)
    again = G(z, torch.tensor([2, 2, 2, 2]))
    assert torch.allclose(again[0], images[2], atol=1e-6)
    assert torch.allclose(again[0], again[3], atol=1e-6)


def test_projection_discriminator_score_depends_on_label():
    torch.manual_seed(0)
    _, D = create_gan("dcgan", tiny(num_classes=5))
    D.eval()
    x = torch.rand(1, 1, 16, 16).mul(2).sub(1).expand(5, 1, 16, 16)
    scores = D(x, torch.arange(5)).score
    assert len(set(scores.tolist())) == 5
    same = D(x, torch.full((5,), 3)).score
    assert torch.allclose(same, scores[3].expand(5), atol=1e-6)


def test_ac_gan_head_gives_class_logits():
    G, D = create_gan("dcgan", tiny(num_classes=7, aux_classifier=True))
    y = torch.arange(6) % 7
    out = D(G(torch.randn(6, 16), y), y)
    assert out.class_logits is not None
    assert out.class_logits.shape == (6, 7)
    assert out.score.shape == (6,)
    _, plain = create_gan("dcgan", tiny(num_classes=7))
    assert plain(torch.zeros(2, 1, 16, 16), torch.tensor([0, 1])).class_logits is None


def test_spectral_norm_adds_parametrizations():
    _, D = create_gan("dcgan", tiny(num_classes=3, spectral_norm=True, d_norm="none"))
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Embedding))]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    _, plain = create_gan("dcgan", tiny(num_classes=3))
    assert not any(parametrize.is_parametrized(m) for m in plain.modules())


def test_spectral_norm_bounds_the_largest_singular_value():
    torch.manual_seed(0)
    _, D = create_gan("dcgan", tiny(spectral_norm=True, d_norm="none"))
    D.train()
    with torch.no_grad():
        for _ in range(30):  # power iteration runs once per training-mode forward
            D(torch.randn(4, 1, 16, 16))
    for m in D.modules():
        if isinstance(m, nn.Conv2d):
            sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
            assert sigma.item() == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("d_norm, expected", [("none", 0), ("batch", 1)])
def test_discriminator_norm_setting(d_norm, expected):
    _, D = create_gan("dcgan", tiny(d_norm=d_norm))  # 16x16: 3 convs, norm after the middle one
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == expected


def test_dcgan_initialisation():
    torch.manual_seed(0)
    G, D = create_gan("dcgan", GanSpec(channels=3, image_size=64))
    convs = [m for net in (G, D) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(convs) == 10
    for conv in convs:
        assert conv.bias is None
        if conv.weight.numel() >= 10_000:  # enough values for a tight estimate
            assert conv.weight.std().item() == pytest.approx(0.02, rel=0.05)
            assert abs(conv.weight.mean().item()) < 1e-3
    norms = [m for net in (G, D) for m in net.modules() if isinstance(m, nn.BatchNorm2d) and m.affine]
    weights = torch.cat([m.weight.detach() for m in norms])
    assert weights.mean().item() == pytest.approx(1.0, abs=0.01)
    assert weights.std().item() == pytest.approx(0.02, rel=0.2)
    assert all(torch.all(m.bias == 0) for m in norms)


def _examples_dcgan(nc: int, nz: int = 100, ngf: int = 64, ndf: int = 64) -> tuple[nn.Module, nn.Module]:
    """pytorch/examples dcgan/main.py, written out layer by layer."""
    G = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),
    )
    D = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
    )
    return G, D


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _buffers(module: nn.Module) -> int:
    return sum(b.numel() for b in module.buffers())


@pytest.mark.parametrize("channels", [1, 3])
def test_parameter_count_matches_pytorch_examples_dcgan(channels):
    G, D = create_gan("dcgan", GanSpec(channels=channels, image_size=64))
    ref_G, ref_D = _examples_dcgan(channels)
    assert _count(G) == _count(ref_G)
    assert _count(D) == _count(ref_D)
    assert _buffers(G) == _buffers(ref_G) and _buffers(D) == _buffers(ref_D)
    # The same layer shapes, not just the same total.
    assert sorted(tuple(p.shape) for p in G.parameters()) == sorted(tuple(p.shape) for p in ref_G.parameters())
    assert sorted(tuple(p.shape) for p in D.parameters()) == sorted(tuple(p.shape) for p in ref_D.parameters())
    # The scores match the reference's shape once the reference's sigmoid is dropped.
    x = torch.randn(2, channels, 64, 64)
    assert D(x).score.shape == ref_D(x).flatten().shape


class _OldBatchNorm2d(nn.BatchNorm2d):
    """The unconditional layer as checkpoints before ConditionalNorm stored it: the batch norm itself."""

    def forward(self, x, y=None):
        return super().forward(x)


class _OldConditionalBatchNorm2d(nn.Module):
    def __init__(self, num_features, num_classes):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.scale = nn.Embedding(num_classes, num_features)
        self.shift = nn.Embedding(num_classes, num_features)

    def forward(self, x, y):
        return self.norm(x) * self.scale(y)[:, :, None, None] + self.shift(y)[:, :, None, None]


@pytest.mark.parametrize("num_classes", [0, 3])
def test_conditional_norm_loads_the_old_layers_weights(num_classes):
    torch.manual_seed(0)
    old = _OldConditionalBatchNorm2d(6, num_classes) if num_classes else _OldBatchNorm2d(6)
    x, y = torch.randn(5, 6, 4, 4), torch.tensor([0, 1, 2, 0, 1])
    old.train()(x * 3 + 1, y)  # running statistics away from their start
    for p in old.parameters():
        p.data.normal_()
    new = ConditionalNorm(nn.BatchNorm2d(6, affine=num_classes == 0), num_classes)
    new.load_state_dict(old.state_dict())  # strict: every name found
    assert torch.equal(new.eval()(x, y), old.eval()(x, y))


@pytest.mark.parametrize("num_classes", [0, 4])
def test_sync_batchnorm_conversion_keeps_the_generator_working(num_classes):
    torch.manual_seed(0)
    G, _ = create_gan("dcgan", tiny(num_classes=num_classes))
    z, y = torch.randn(4, 16), (torch.arange(4) if num_classes else None)
    G.train()(z, y)  # running statistics away from their start
    expected = G.eval()(z, y)
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(G).eval()
    norms = [m.norm for m in synced.modules() if isinstance(m, ConditionalNorm)]
    assert len(norms) == 2 and all(isinstance(n, nn.SyncBatchNorm) for n in norms)  # 16x16: two norms
    assert torch.equal(synced(z, y), expected)


def test_a_conditional_norm_refuses_a_norm_with_its_own_affine_parameters():
    with pytest.raises(ValueError, match="affine=False"):
        ConditionalNorm(nn.BatchNorm2d(4), num_classes=3)


def test_ema_generator_averages_with_warm_up():
    from ganaug.gan.ema import EmaGenerator

    G = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        G.weight.zero_()
    ema = EmaGenerator(G, decay=0.999, z_dim=2, num_classes=0)
    assert not ema.module.weight.requires_grad
    with torch.no_grad():
        G.weight.fill_(1.0)
    ema.update(G)  # decay min(0.999, 2 / 11): mostly the new weights
    assert torch.allclose(ema.module.weight, torch.full((2, 2), 1 - 2 / 11))
    for _ in range(2000):
        ema.update(G)
    assert torch.allclose(ema.module.weight, torch.ones(2, 2), atol=1e-3)
    # the average is a copy: training G further does not move it until the next update
    with torch.no_grad():
        G.weight.fill_(5.0)
    assert torch.allclose(ema.module.weight, torch.ones(2, 2), atol=1e-3)
