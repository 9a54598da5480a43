"""The model seam: an architecture and a generator regulariser registered from this file alone, with no edit
elsewhere, go through recipe validation, fit, checkpoints, resume and augment.

The toy is a tiny conditional MLP GAN with one option of its own (`hidden`); registrations last for one test
(Registry.temporarily), so no other test sees them.
"""

from __future__ import annotations

import json
import math

import pytest
import tomllib
import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from ganaug.config import load_recipe, validate
from ganaug.data import InMemoryBatches, load_pool
from ganaug.errors import ConfigError
from ganaug.gan.diffaugment import DiffAugment
from ganaug.gan.losses import create_loss
from ganaug.gan.models import MODELS, DiscriminatorOutput, GanSpec, check_options
from ganaug.gan.regularisers import REGULARISERS, GeneratorBatch, create_regularisers
from ganaug.runs.generator import RunGenerator
from ganaug.runs.synthset import SynthSet
from ganaug.stages.augment import augment
from ganaug.stages.fit.run import build_parts, fit
from ganaug.stages.fit.step import GanStep

TOY = "toy-mlp"


class ToyGenerator(nn.Module):
    def __init__(self, spec: GanSpec, hidden: int) -> None:
        super().__init__()
        self.shape = (spec.channels, spec.image_size, spec.image_size)
        self.embed = nn.Embedding(spec.num_classes, spec.z_dim) if spec.num_classes else None
        self.net = nn.Sequential(nn.Linear(spec.z_dim, hidden), nn.ReLU(), nn.Linear(hidden, math.prod(self.shape)),
                                 nn.Tanh())

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            z = z + self.embed(y)
        return self.net(z).view(len(z), *self.shape)


class ToyDiscriminator(nn.Module):
    def __init__(self, spec: GanSpec, hidden: int) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(spec.channels * spec.image_size**2, hidden),
                                      nn.LeakyReLU(0.2))
        self.head = nn.Linear(hidden, 1)
        self.embed = nn.Embedding(spec.num_classes, hidden) if spec.num_classes else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> DiscriminatorOutput:
        h = self.features(x)
        score = self.head(h).flatten()
        if self.embed is not None:
            score = score + (self.embed(y) * h).sum(dim=1)  # projection, as in DCGAN
        return DiscriminatorOutput(score, None)


def toy(spec: GanSpec, *, hidden: int = 32) -> tuple[nn.Module, nn.Module]:
    return ToyGenerator(spec, hidden), ToyDiscriminator(spec, hidden)


class FakeEnergy:
    """A test-only generator regulariser: the mean squared pixel of the generated images."""

    def __call__(self, batch: GeneratorBatch) -> Tensor:
        return batch.fake.square().mean()


@pytest.fixture
def toy_model():
    with MODELS.temporarily(TOY, toy), REGULARISERS.temporarily("energy", FakeEnergy):
        yield
    assert TOY not in MODELS and "energy" not in REGULARISERS


def toy_recipe(tiny_overrides, **extra):
    settings = dict(model__name=TOY, model__conditional="true", model__options="{hidden = 24}",
                    train__batch_size=8, log__every=1, log__checkpoint_every=3, log__sample_every=3)
    return load_recipe("digits", tiny_overrides(**(settings | extra)))[0]


def test_a_registered_architecture_fits_checkpoints_resumes_and_augments(tmp_path, tiny_overrides, toy_model):
    out = tmp_path / "run"
    first = fit(toy_recipe(tiny_overrides, train__steps=3, model__g_regularisers="{energy = 0.5}"), out,
                device="cpu", progress=False)
    assert first.steps == 3 and first.checkpoint is not None and first.checkpoint.name == "step_0000003"
    weights = load_file(first.checkpoint / "generator.safetensors")
    assert weights["net.0.weight"].shape == (24, 16), "model.options.hidden reached the architecture"

    again = fit(toy_recipe(tiny_overrides, train__steps=5, model__g_regularisers="{energy = 0.5}"), out,
                device="cpu", progress=False, resume=True)
    assert again.steps == 5 and again.checkpoint.name == "step_0000005"
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(0 < r["reg_energy"] <= 1 for r in rows), "the regulariser is logged as its own metric"

    result = augment(out, tmp_path / "synth", count=20, device="cpu", progress=False)
    synth = SynthSet(tmp_path / "synth")
    assert len(synth) == 20 and result.teacher is None  # conditional: labelled by the class asked for
    images = synth.all_images()
    assert images.shape == (20, 1, 16, 16) and images.dtype == torch.uint8
    table = synth.table()
    generator = RunGenerator.load(out, device="cpu")
    assert generator.z_dim == 16 and generator.conditional
    seeds, labels = torch.tensor(table["seed"].to_numpy()[:4]), torch.tensor(table["generated_for"].to_numpy()[:4])
    assert torch.equal(generator.generate(seeds, labels), images[:4]), "each seed regenerates its image"


def test_an_unknown_or_mistyped_option_fails_at_recipe_load(tiny_overrides, toy_model):
    with pytest.raises(ConfigError, match=r"model\.options\.hiden is not an option of model 'toy-mlp' "
                                          r"\(its options: hidden\)"):
        toy_recipe(tiny_overrides, model__options="{hiden = 24}")
    with pytest.raises(ConfigError, match=r"model\.options\.hidden: Input should be a valid integer"):
        toy_recipe(tiny_overrides, model__options="{hidden = 'wide'}")
    with pytest.raises(ConfigError, match=r"model\.g_regularisers\.energi is not a generator regulariser; "
                                          "choose one of: energy, mode_seeking"):
        toy_recipe(tiny_overrides, model__g_regularisers="{energi = 1.0}")
    assert toy_recipe(tiny_overrides, model__options="{}").model.options == {}
    assert check_options(TOY, {}) == {"hidden": 32}, "the spec gets every option, defaults filled in"


def test_dcgan_takes_no_options(tiny_overrides):
    with pytest.raises(ConfigError, match=r"model\.options\.depth is not an option of model 'dcgan' \(it takes none\)"):
        load_recipe("digits", tiny_overrides(model__options="{depth = 4}"))


def test_a_config_written_before_model_options_still_loads():
    recipe, _ = load_recipe("digits")
    old = tomllib.loads(recipe.to_toml())
    for key in ("options", "g_regularisers"):
        del old["model"][key]
    assert validate(old) == recipe


def test_temporary_registration_is_removed_even_after_an_error():
    with pytest.raises(RuntimeError), MODELS.temporarily(TOY, toy):
        assert TOY in MODELS
        raise RuntimeError
    assert TOY not in MODELS


def test_a_regulariser_adds_its_weighted_term_to_the_generator_loss(tiny_overrides, toy_model):
    """The same first step with and without the term: D's update is the same, loss_g differs by weight x term."""
    recipe = load_recipe("digits", tiny_overrides(train__batch_size=8, train__channels_last="false"))[0]
    pool = load_pool(recipe.data)
    outputs = []
    for regularisers in ({}, {"energy": 2.5}):
        parts = build_parts(recipe, pool, torch.device("cpu"))
        batches = InMemoryBatches(pool.images[:64], pool.labels[:64], 8, 0)
        step = GanStep(parts, create_loss("vanilla"), batches, DiffAugment([], parts.rng),
                       regularisers=create_regularisers(regularisers))
        outputs.append(step())
    plain, regularised = outputs
    assert "reg_energy" not in plain
    assert regularised["loss_d"] == plain["loss_d"]
    expected = plain["loss_g"].item() + 2.5 * regularised["reg_energy"].item()
    assert regularised["loss_g"].item() == pytest.approx(expected, rel=1e-5)
