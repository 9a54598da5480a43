"""GAN losses: known values, monotonicity, and the WGAN clipping / gradient-penalty hooks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from ganaug.gan.losses import LOSSES, GanLoss, create_loss

ALL = LOSSES.names()


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def test_every_registered_loss_is_documented_and_builds():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for name in ALL:
        assert f"`{name}`" in readme, f"loss {name!r} is not in the README's recipe keys"
        loss = create_loss(name, gp_weight=3.0, clip=0.5)
        assert isinstance(loss, GanLoss)
        assert loss.gp_weight == 3.0 and loss.clip == 0.5
    with pytest.raises(KeyError, match="nope"):
        create_loss("nope")


# (name, real scores, fake scores, expected D loss, expected G loss on the fake scores)
KNOWN = [
    ("vanilla", t(0, 0), t(0, 0), 2 * math.log(2), math.log(2)),
    ("vanilla", t(100.0), t(-100.0), 0.0, 100.0),  # confident and right; G pays softplus(100)
    ("hinge", t(1, 1), t(-1, -1), 0.0, 1.0),
    ("hinge", t(0, 0), t(0, 0), 2.0, 0.0),
    ("hinge", t(3.0, 2.0), t(-5.0, -1.5), 0.0, 3.25),  # beyond the margin: no loss for D
    ("lsgan", t(1, 1), t(0, 0), 0.0, 0.5),
    ("lsgan", t(0.0), t(1.0), 1.0, 0.0),
    ("wgan", t(1, 3), t(-2, 0), -3.0, 1.0),
    ("wgan-gp", t(1, 3), t(-2, 0), -3.0, 1.0),
]


@pytest.mark.parametrize("name, real, fake, loss_d, loss_g", KNOWN)
def test_known_values(name, real, fake, loss_d, loss_g):
    loss = create_loss(name)
    assert loss.discriminator(real, fake).item() == pytest.approx(loss_d, abs=1e-5)
    assert loss.generator(fake).item() == pytest.approx(loss_g, abs=1e-5)


@pytest.mark.parametrize("name", ["wgan", "wgan-gp"])
def test_wasserstein_loss_is_mean_fake_minus_mean_real(name):
    torch.manual_seed(0)
    real, fake = torch.randn(64), torch.randn(64)
    loss = create_loss(name)
    assert loss.discriminator(real, fake).item() == pytest.approx((fake.mean() - real.mean()).item(), abs=1e-6)
    assert loss.generator(fake).item() == pytest.approx(-fake.mean().item(), abs=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_discriminator_loss_falls_as_real_scores_rise_and_fake_scores_fall(name):
    loss = create_loss(name)
    fake = t(0.0, 0.2)
    real_losses = [loss.discriminator(t(r, r - 0.1), fake).item() for r in (-0.5, 0.0, 0.5)]
    assert real_losses[0] > real_losses[1] > real_losses[2]
    real = t(0.0, 0.2)
    fake_losses = [loss.discriminator(real, t(f, f + 0.1)).item() for f in (0.5, 0.2, -0.1)]
    assert fake_losses[0] > fake_losses[1] > fake_losses[2]


@pytest.mark.parametrize("name", ALL)
def test_generator_loss_falls_as_fake_scores_rise(name):
    loss = create_loss(name)
    values = [loss.generator(t(f, f + 0.1)).item() for f in (-0.5, 0.0, 0.5)]
    assert values[0] > values[1] > values[2]


@pytest.mark.parametrize("name", ALL)
def test_losses_are_differentiable_scalars(name):
    real = torch.randn(8, requires_grad=True)
    fake = torch.randn(8, requires_grad=True)
    loss = create_loss(name)
    d = loss.discriminator(real, fake)
    g = loss.generator(fake)
    assert d.shape == () and g.shape == ()
    d.backward()
    assert real.grad is not None and fake.grad is not None


def test_wgan_clipping_clamps_discriminator_parameters():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
    with torch.no_grad():
        for p in D.parameters():
            p.mul_(10)
    assert max(p.abs().max().item() for p in D.parameters()) > 0.5
    before = [p.detach().clone() for p in D.parameters()]
    create_loss("wgan", clip=0.0625).after_discriminator_step(D)
    for p, old in zip(D.parameters(), before, strict=True):
        assert p.min().item() >= -0.0625 and p.max().item() <= 0.0625
        assert torch.equal(p.detach(), old.clamp(-0.0625, 0.0625))  # clamped, not rescaled


@pytest.mark.parametrize("name", [n for n in ALL if n != "wgan"])
def test_other_losses_leave_weights_alone(name):
    D = nn.Linear(4, 1)
    with torch.no_grad():
        D.weight.fill_(3.0)
    create_loss(name).after_discriminator_step(D)
    assert torch.all(D.weight == 3.0)


def _linear_critic(w: torch.Tensor):
    return lambda x: x.flatten(1) @ w


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic():
    torch.manual_seed(0)
    real, fake = torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4)
    w = torch.randn(16)
    w = w / w.norm()
    penalty = create_loss("wgan-gp", gp_weight=10.0).penalty(_linear_critic(w), real, fake)
    assert penalty is not None
    assert penalty.item() == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("scale, expected", [(2.0, 10.0), (0.5, 2.5), (3.0, 40.0)])
def test_gradient_penalty_grows_with_the_gradient_norm(scale, expected):
    torch.manual_seed(0)
    real, fake = torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4)
    w = torch.randn(16)
    w = scale * w / w.norm()  # gradient norm is `scale` everywhere
    penalty = create_loss("wgan-gp", gp_weight=10.0).penalty(_linear_critic(w), real, fake)
    assert penalty.item() == pytest.approx(expected, rel=1e-5)


def test_gradient_penalty_is_differentiable_in_the_critic_weights():
    torch.manual_seed(0)
    real, fake = torch.randn(4, 1, 4, 4), torch.randn(4, 1, 4, 4)
    w = (2 * torch.ones(16) / 4).requires_grad_(True)  # norm 2
    penalty = create_loss("wgan-gp").penalty(_linear_critic(w), real, fake)
    penalty.backward()
    assert w.grad is not None and w.grad.norm() > 0
    # descending the penalty moves the norm towards 1
    with torch.no_grad():
        assert (w - 0.01 * w.grad).norm() < w.norm()


@pytest.mark.parametrize("name", [n for n in ALL if n != "wgan-gp"])
def test_no_penalty_without_gradient_penalty(name):
    x = torch.randn(2, 1, 4, 4)
    assert create_loss(name).penalty(_linear_critic(torch.ones(16)), x, x) is None
