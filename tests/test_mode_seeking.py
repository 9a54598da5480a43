"""Mode seeking (MSGAN), the built-in generator regulariser: its term, its gradient, and a fit that uses it."""

from __future__ import annotations

import json

import pytest
import torch

from ganaug.config import load_recipe
from ganaug.gan.mode_seeking import EPS, ModeSeeking
from ganaug.gan.models import DiscriminatorOutput
from ganaug.gan.regularisers import GeneratorBatch
from ganaug.stages.fit.run import fit


def batch(fake: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None) -> GeneratorBatch:
    return GeneratorBatch(fake, z, y, DiscriminatorOutput(torch.zeros(len(fake)), None))


def test_the_term_is_msgan_over_the_pairs_that_share_a_class():
    fake = torch.tensor([[0.0, 0.0], [1.0, 3.0], [5.0, 5.0]]).reshape(3, 1, 1, 2)
    z = torch.tensor([[0.0, 0.0, 0.0, 0.0], [2.0, 2.0, 0.0, 0.0], [9.0, 9.0, 9.0, 9.0]])
    # images 0 and 1 are the one same-class pair: mean |image difference| 2, mean |z difference| 1
    term = ModeSeeking()(batch(fake, z, torch.tensor([4, 4, 7])))
    assert term.item() == pytest.approx(1 / (2 / 1 + EPS))
    # unconditional: all three pairs, ratios 2 / 1, 5 / 9 and 3 / 8
    term = ModeSeeking()(batch(fake, z, None))
    assert term.item() == pytest.approx(1 / ((2 + 5 / 9 + 3 / 8) / 3 + EPS))


def test_a_batch_without_a_same_class_pair_adds_nothing_and_no_nan():
    fake = torch.randn(3, 1, 4, 4, requires_grad=True)
    term = ModeSeeking()(batch(fake, torch.randn(3, 8), torch.tensor([0, 1, 2])))
    term.backward()
    assert term.item() == 0 and torch.equal(fake.grad, torch.zeros_like(fake))


def test_its_gradient_pushes_images_of_a_class_apart():
    """Minimising the term makes two near-identical images of one class, from different noise, differ more."""
    torch.manual_seed(0)
    fake = (torch.zeros(2, 1, 4, 4) + 0.01 * torch.randn(2, 1, 4, 4)).requires_grad_(True)
    z, y = torch.randn(2, 8), torch.tensor([3, 3])
    before = (fake[0] - fake[1]).abs().mean().item()
    ModeSeeking()(batch(fake, z, y)).backward()
    with torch.no_grad():
        stepped = fake - 1e-4 * fake.grad
    assert (stepped[0] - stepped[1]).abs().mean().item() > before


def test_a_fit_with_mode_seeking_logs_its_term(tmp_path, tiny_overrides):
    settings = tiny_overrides(train__steps=3, log__every=1, model__g_regularisers="{mode_seeking = 1.0}")
    root = fit(load_recipe("digits", settings)[0], tmp_path / "run", device="cpu", progress=False).run.root
    rows = [json.loads(line) for line in (root / "metrics.jsonl").read_text().splitlines()]
    terms = [row["reg_mode_seeking"] for row in rows if "reg_mode_seeking" in row]
    assert len(terms) == 3 and all(0 < term < 1 / EPS for term in terms)
