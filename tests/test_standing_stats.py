"""Batch-norm statistics of the EMA generator are measured on its own weights, not averaged from the live one's."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ganaug.gan.ema import EmaGenerator
from ganaug.gan.standing_stats import BATCH_SIZE, BATCHES, SEED, remeasure_batch_norm
from ganaug.runs.checkpoint import EMA_FILE, list_checkpoints
from ganaug.runs.generator import RunGenerator
from ganaug.tensorfile import load_tensors, save_tensors


class TinyGenerator(nn.Module):
    """z -> linear -> batch norm (-> + a class embedding when conditional)."""

    def __init__(self, z_dim: int = 3, num_classes: int = 0) -> None:
        super().__init__()
        self.linear = nn.Linear(z_dim, 4)
        self.norm = nn.BatchNorm1d(4)
        self.embed = nn.Embedding(num_classes, 4) if num_classes else None

    def forward(self, z, y=None):
        h = self.linear(z)
        if self.embed is not None:
            h = h + self.embed(y)
        return self.norm(h)


def test_remeasuring_sets_the_average_of_the_generators_own_batch_statistics():
    G = TinyGenerator(num_classes=5).eval()
    G.norm.running_mean.fill_(100.0)  # what averaging a live generator's statistics might have left
    remeasure_batch_norm(G, z_dim=3, num_classes=5)
    rng = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        batches = []
        for _ in range(BATCHES):
            z = torch.randn(BATCH_SIZE, 3, generator=rng)
            y = torch.randint(5, (BATCH_SIZE,), generator=rng)
            batches.append(G.linear(z) + G.embed(y))
    means = torch.stack([b.mean(0) for b in batches])
    variances = torch.stack([b.var(0) for b in batches])  # unbiased, as batch norm's running_var
    assert torch.allclose(G.norm.running_mean, means.mean(0), atol=1e-5)
    assert torch.allclose(G.norm.running_var, variances.mean(0), atol=1e-5)
    assert G.norm.momentum == 0.1 and not G.training, "momentum and eval mode restored"


def test_a_generator_without_batch_norm_is_left_alone():
    G = nn.Sequential(nn.Linear(3, 4))
    before = copy.deepcopy(G.state_dict())
    remeasure_batch_norm(G, z_dim=3, num_classes=0)  # Sequential takes one argument: it is never called
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())


def test_ema_averages_weights_but_not_batch_norm_statistics():
    G = TinyGenerator()
    ema = EmaGenerator(G, decay=0.5, z_dim=3, num_classes=0)
    before = G.linear.weight.detach().clone()
    G.norm.running_mean.fill_(7.0)
    with torch.no_grad():
        G.linear.weight.add_(1.0)
    ema.update(G)  # the warm-up decay: min(0.5, 2 / 11)
    assert torch.allclose(ema.module.linear.weight, before + (1 - 2 / 11)), "weights are averaged"
    assert torch.equal(ema.module.norm.running_mean, torch.zeros(4)), "statistics are not averaged"
    module = ema.ready()
    expected = copy.deepcopy(module)
    remeasure_batch_norm(expected, 3, 0)
    assert torch.allclose(module.norm.running_mean, expected.norm.running_mean)
    assert module.norm.running_mean.abs().sum() > 0, "measured on the averaged weights"
    module.norm.running_mean.fill_(-1.0)
    assert ema.ready().norm.running_mean[0] == -1.0, "measured once per update, not on every call"
    ema.update(G)
    assert torch.allclose(ema.ready().norm.running_mean, expected.norm.running_mean, atol=0.5)


def test_checkpoints_hold_measured_statistics_and_loading_remeasures_old_ones(run_copy, tmp_path):
    """A fit's EMA checkpoint holds statistics measured on its own weights; a checkpoint from before this change
    (averaged statistics) samples as if they had been measured."""
    run = run_copy("conditional")
    folder = list_checkpoints(run / "checkpoints")[-1]
    saved = load_tensors(folder / EMA_FILE, advice="")
    names = [k for k in saved if k.endswith("running_mean")]
    assert names, "the DCGAN generator has batch norm"
    seeds, labels = torch.arange(16), torch.arange(16) % 10
    fresh = RunGenerator.load(run, device="cpu")
    state = fresh.module.state_dict()
    for name in names:
        assert torch.allclose(saved[name], state[name], atol=1e-5), f"{name}: the checkpoint was not measured"
    images = fresh.generate(seeds, labels)
    save_tensors(folder / EMA_FILE, {k: (v + 3.0 if k in names else v) for k, v in saved.items()})
    assert torch.equal(RunGenerator.load(run, device="cpu").generate(seeds, labels), images)
