"""The EMA generator's spectral-norm vectors and batch-norm statistics are estimated on its own weights, not
averaged from the live generator's."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ganaug.gan.derived_state import BATCH_SIZE, PASSES, SEED, refresh_derived_state
from ganaug.gan.ema import EmaGenerator
from ganaug.runs.checkpoint import EMA_FILE, list_checkpoints
from ganaug.runs.generator import RunGenerator
from ganaug.tensorfile import load_tensors, save_tensors


class TinyGenerator(nn.Module):
    """z -> (spectrally normalised) linear -> batch norm, + a class embedding when conditional."""

    def __init__(self, z_dim: int = 3, num_classes: int = 0, spectral_norm: bool = False) -> None:
        super().__init__()
        self.linear = nn.Linear(z_dim, 6)
        if spectral_norm:
            nn.utils.parametrizations.spectral_norm(self.linear)
        self.norm = nn.BatchNorm1d(6)
        self.embed = nn.Embedding(num_classes, 6) if num_classes else None

    def forward(self, z, y=None):
        h = self.linear(z)
        if self.embed is not None:
            h = h + self.embed(y)
        return self.norm(h)


def top_singular_value(G: TinyGenerator) -> float:
    """Of the weight the layer uses in eval mode (W divided by u^T W v): 1 when u and v fit W."""
    return float(torch.linalg.matrix_norm(G.eval().linear.weight, ord=2))


def test_batch_norm_statistics_are_the_average_of_the_generators_own():
    G = TinyGenerator(num_classes=5).eval()
    G.norm.running_mean.fill_(100.0)  # what averaging a live generator's statistics might have left
    refresh_derived_state(G, z_dim=3, num_classes=5)
    rng = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        batches = []
        for _ in range(PASSES):
            z = torch.randn(BATCH_SIZE, 3, generator=rng)
            y = torch.randint(5, (BATCH_SIZE,), generator=rng)
            batches.append(G.linear(z) + G.embed(y))
    assert torch.allclose(G.norm.running_mean, torch.stack([b.mean(0) for b in batches]).mean(0), atol=1e-5)
    assert torch.allclose(G.norm.running_var, torch.stack([b.var(0) for b in batches]).mean(0), atol=1e-5)
    assert G.norm.momentum == 0.1 and not G.training, "momentum and eval mode restored"


def test_a_generator_with_neither_is_left_alone():
    G = nn.Sequential(nn.Linear(3, 4))
    before = copy.deepcopy(G.state_dict())
    refresh_derived_state(G, z_dim=3, num_classes=0)  # Sequential takes one argument: it is never called
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())


def test_the_ema_re_estimates_spectral_norm_on_the_averaged_weights():
    torch.manual_seed(0)
    G = TinyGenerator(spectral_norm=True)
    ema = EmaGenerator(G, decay=0.9, z_dim=3, num_classes=0)
    with torch.no_grad():  # the live generator moves far, and its power iteration follows it
        G.linear.parametrizations.weight.original.copy_(torch.randn(6, 3) * 3)
        G.train()
        for _ in range(30):
            G(torch.randn(8, 3))
    ema.updates = 1000  # past the warm-up: the average stays 90 % the old weights
    ema.update(G)
    stale = copy.deepcopy(ema.module)
    assert abs(top_singular_value(stale) - 1) > 0.05, "the live generator's u and v do not fit the average"
    assert abs(top_singular_value(ema.ready()) - 1) < 1e-3


def test_the_ema_averages_weights_and_re_measures_statistics_once_per_update():
    G = TinyGenerator()
    ema = EmaGenerator(G, decay=0.5, z_dim=3, num_classes=0)
    before = G.linear.weight.detach().clone()
    G.norm.running_mean.fill_(7.0)
    with torch.no_grad():
        G.linear.weight.add_(1.0)
    ema.update(G)  # the warm-up decay: min(0.5, 2 / 11)
    assert torch.allclose(ema.module.linear.weight, before + (1 - 2 / 11)), "weights are averaged"
    assert torch.equal(ema.module.norm.running_mean, torch.zeros(6)), "statistics are not averaged"
    module = ema.ready()
    expected = copy.deepcopy(module)
    refresh_derived_state(expected, 3, 0)
    assert torch.allclose(module.norm.running_mean, expected.norm.running_mean)
    assert module.norm.running_mean.abs().sum() > 0, "measured on the averaged weights"
    module.norm.running_mean.fill_(-1.0)
    assert ema.ready().norm.running_mean[0] == -1.0, "measured once per update, not on every call"
    ema.update(G)
    assert ema.ready().norm.running_mean[0] != -1.0


def test_checkpoints_hold_re_estimated_buffers_and_loading_re_estimates_old_ones(run_copy):
    """A fit's EMA checkpoint holds batch-norm statistics measured on its own weights; a checkpoint from before
    this change (averaged statistics) samples as if they had been measured."""
    run = run_copy("conditional")
    folder = list_checkpoints(run / "checkpoints")[-1]
    saved = load_tensors(folder / EMA_FILE, advice="")
    names = [k for k in saved if k.endswith("running_mean")]
    assert names, "the DCGAN generator has batch norm"
    seeds, labels = torch.arange(16), torch.arange(16) % 10
    loaded = RunGenerator.load(run, device="cpu")
    state = loaded.module.state_dict()
    for name in names:
        assert torch.allclose(saved[name], state[name], atol=1e-5), f"{name}: the checkpoint was not measured"
    images = loaded.generate(seeds, labels)
    save_tensors(folder / EMA_FILE, {k: (v + 3.0 if k in names else v) for k, v in saved.items()})
    assert torch.equal(RunGenerator.load(run, device="cpu").generate(seeds, labels), images)
