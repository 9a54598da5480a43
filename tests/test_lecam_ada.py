"""LeCam regularisation and ADA's adaptive augmentation strength: options of every model, kept in checkpoints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import tomllib
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ganaug.config import load_recipe, validate
from ganaug.data import InMemoryBatches, load_pool
from ganaug.errors import ConfigError, RunDirError
from ganaug.gan.ada import AdaptiveStrength
from ganaug.gan.diffaugment import DiffAugment
from ganaug.gan.lecam import LeCam
from ganaug.gan.losses import create_loss
from ganaug.gan.models import DiscriminatorOutput
from ganaug.runs.checkpoint import GanParts, load_checkpoint
from ganaug.stages.fit.run import build_parts, fit
from ganaug.stages.fit.step import GanStep

# ---------------------------------------------------------------- LeCam


def test_lecam_term_matches_a_hand_computation():
    lecam = LeCam(0.3)
    lecam.load_state_dict({"real": torch.tensor(0.5), "fake": torch.tensor(-1.0)})
    real, fake = torch.tensor([-3.0, 3.0]), torch.tensor([-2.0, 4.0])
    term = lecam(real, fake)
    # the anchors take in this batch first: a_real = 0.99 * 0.5 + 0.01 * 0, a_fake = 0.99 * -1 + 0.01 * 1
    a_real, a_fake = 0.495, -0.99 + 0.01
    # only a real score above a_fake and a generated score below a_real count (the authors' ReLU)
    expected = (3 - a_fake) ** 2 / 2 + (a_real - -2) ** 2 / 2
    assert term.item() == pytest.approx(expected, rel=1e-6)
    assert (lecam.real.item(), lecam.fake.item()) == pytest.approx((a_real, a_fake), rel=1e-6)


def test_lecam_anchors_are_moving_averages_of_the_mean_scores():
    lecam = LeCam(1.0)
    means = [(2.0, -1.0), (4.0, 0.0), (-3.0, 5.0)]
    for real_mean, fake_mean in means:
        lecam(torch.full((4,), real_mean) + torch.tensor([-1.0, 1.0, -2.0, 2.0]), torch.full((3,), fake_mean))
    expected_real = sum(0.01 * 0.99 ** (len(means) - 1 - i) * m for i, (m, _) in enumerate(means))
    expected_fake = sum(0.01 * 0.99 ** (len(means) - 1 - i) * m for i, (_, m) in enumerate(means))
    assert lecam.real.item() == pytest.approx(expected_real, rel=1e-6)
    assert lecam.fake.item() == pytest.approx(expected_fake, rel=1e-6)


def test_lecam_anchors_are_constants_to_the_gradient():
    lecam = LeCam(1.0)
    real = torch.tensor([1.0, 3.0], requires_grad=True)
    fake = torch.tensor([-2.0, 0.0], requires_grad=True)
    lecam(real, fake).backward()
    # d/d real_i of mean(relu(real - a_fake)^2) = (real_i - a_fake) where positive; no term through the anchors
    assert torch.allclose(real.grad, (real.detach() - lecam.fake).clamp_min(0))
    assert torch.allclose(fake.grad, (fake.detach() - lecam.real).clamp_max(0))


def test_lecam_ignores_scores_on_the_right_side_of_the_anchors():
    """A real image scored below the generated images' average (and a generated one above the real average)
    adds nothing: the penalty is on D pulling the two apart, not on the spread of its scores."""
    lecam = LeCam(1.0)
    lecam.load_state_dict({"real": torch.tensor(1.0), "fake": torch.tensor(-1.0)})
    assert lecam(torch.tensor([-5.0, -2.0]), torch.tensor([3.0, 8.0])).item() == 0


def _step(tiny_overrides, **settings) -> GanStep:
    """A GanStep built as fit builds it."""
    recipe = load_recipe("digits", tiny_overrides(train__batch_size=8, train__channels_last="false", **settings))[0]
    pool = load_pool(recipe.data)
    parts = build_parts(recipe, pool, torch.device("cpu"))
    batches = InMemoryBatches(pool.images[:64], pool.labels[:64], 8, 0)
    step = GanStep(parts, create_loss(recipe.loss.name), batches,
                   DiffAugment(recipe.train.diffaugment_policies, parts.rng, parts.ada.strength))
    return step


def test_lecam_changes_the_discriminator_update_only_with_a_weight(tiny_overrides):
    plain_step, lecam_step = _step(tiny_overrides, loss__lecam_weight=0), _step(tiny_overrides, loss__lecam_weight=2.5)
    plain, with_lecam = plain_step(), lecam_step()
    assert "lecam" not in plain and "lecam" in with_lecam
    # the same first forward pass: loss_d differs by exactly weight x term, and the anchors moved off 0
    assert with_lecam["loss_d"].item() == pytest.approx(plain["loss_d"].item() + 2.5 * with_lecam["lecam"].item(),
                                                        rel=1e-5)
    assert with_lecam["lecam"] > 0 and lecam_step.parts.lecam.real != 0
    d_plain = plain_step.parts.discriminator.state_dict()
    d_lecam = lecam_step.parts.discriminator.state_dict()
    assert any(not torch.equal(d_plain[k], d_lecam[k]) for k in d_plain if d_plain[k].is_floating_point())
    assert plain_step.parts.lecam.real == 0  # off: not even the anchors are touched


# ---------------------------------------------------------------- ADA's controller


def test_p_rises_while_d_is_sure_of_the_reals_and_falls_below_the_target():
    ada = AdaptiveStrength(target=0.6, interval=2, kimg=0.064)  # 2 steps x 8 images: p moves 16 / 64 = 0.25
    trace = []
    for scores in [10.0] * 10 + [-10.0] * 12:
        ada.observe(torch.full((8,), scores))
        ada.end_step()
        trace.append((round(ada.p.item(), 6), ada.rt.item()))
    ps = [p for p, _ in trace]
    assert ps[:10] == [0, 0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1, 1, 1]  # once per interval, clamped at 1
    assert ps[10:] == [1, 0.75, 0.75, 0.5, 0.5, 0.25, 0.25, 0, 0, 0, 0, 0]  # clamped at 0
    assert trace[9][1] == 1 and trace[-1][1] == -1


def test_p_falls_when_rt_is_below_the_target_and_rt_is_the_mean_sign():
    ada = AdaptiveStrength(target=0.6, interval=1, kimg=0.04)  # 8 images per interval: p moves 0.2
    ada.load_state_dict({**ada.state_dict(), "p": torch.tensor(0.5)})
    ada.observe(torch.tensor([3.0, 1.0, 0.5, 2.0, 4.0, -1.0, -2.0, 0.1]))  # 6 positive, 2 negative: r_t = 0.5
    ada.end_step()
    assert ada.rt.item() == pytest.approx(0.5)
    assert ada.p.item() == pytest.approx(0.3)


class SureDiscriminator(nn.Module):
    """Says +10 ('real') to every image: the overconfident D ADA is meant to catch."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor, y: Tensor | None = None) -> DiscriminatorOutput:
        return DiscriminatorOutput(10 + self.bias + 0 * x.flatten(1).sum(1), None)


def test_the_step_raises_p_for_an_overconfident_discriminator(tiny_overrides):
    step = _step(tiny_overrides, train__diffaugment="translation,cutout", train__ada_target=0.6,
                 train__ada_interval=2, train__ada_kimg=0.08)  # 2 steps x 8 images: p moves 0.2
    step.parts.discriminator = SureDiscriminator()
    step.parts.opt_d = torch.optim.SGD(step.parts.discriminator.parameters(), lr=0.0)
    rows = [step() for _ in range(5)]
    assert [round(r["ada_p"].item(), 6) for r in rows] == [0, 0, 0.2, 0.2, 0.4]  # the p each step augmented with
    assert [r["ada_rt"].item() for r in rows] == [0, 1, 1, 1, 1]  # 0 until the first interval ends
    assert step.parts.ada.p.item() == pytest.approx(0.4) and step.parts.ada.steps == 1
    assert step.augment.strength is step.parts.ada.p  # what DiffAugment applies is what ADA steers


# ---------------------------------------------------------------- recipe keys


def test_ada_needs_diffaugment_policies(tiny_overrides):
    with pytest.raises(ConfigError, match=r"train\.ada_target > 0 .*train\.diffaugment"):
        load_recipe("digits", tiny_overrides(train__ada_target=0.6))
    recipe = load_recipe("digits", tiny_overrides(train__ada_target=0.6, train__diffaugment="color"))[0]
    assert recipe.train.ada_interval == 4 and recipe.train.ada_kimg == 500 and recipe.loss.lecam_weight == 0


@pytest.mark.parametrize("setting", ["loss.lecam_weight=-0.1", "train.ada_target=1", "train.ada_target=-0.5",
                                     "train.ada_interval=0", "train.ada_kimg=0"])
def test_out_of_range_settings_are_refused(setting):
    with pytest.raises(ConfigError, match=setting.split("=")[0].replace(".", r"\.")):
        load_recipe("digits", ["train.diffaugment=color", setting])


# ---------------------------------------------------------------- checkpoints

ON = {"loss.lecam_weight": 0.5, "train.ada_target": 0.6, "train.ada_interval": 2, "train.ada_kimg": 0.05,
      "train.diffaugment": "translation,cutout", "train.batch_size": 8, "train.lr_d": 0.002,
      "log.checkpoint_every": 5, "log.keep_checkpoints": 5, "log.sample_every": 100}
"""LeCam and ADA on; a quick D, so that r_t passes the target (and p moves, by 0.32) within a few steps."""


def _fit(out: Path, tiny_overrides, steps: int, resume: bool = False) -> Path:
    settings = [*tiny_overrides(), *(f"{k}={v}" for k, v in ON.items()), f"train.steps={steps}"]
    return fit(load_recipe("digits", settings)[0], out, device="cpu", resume=resume, progress=False).run.root


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny_overrides) -> Path:
    """7 uninterrupted steps with LeCam and ADA, checkpointed at 5 (p has moved, the next interval is half done)
    and 7. Read-only: tests copy it."""
    return _fit(tmp_path_factory.mktemp("lecam-ada") / "run", tiny_overrides, 7)


def _metrics(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "images_per_s"} for row in rows]


def test_resume_with_lecam_and_ada_continues_exactly(tmp_path, tiny_overrides, straight):
    """Resumed from step 5, the last 2 steps are exactly the uninterrupted run's."""
    run = Path(shutil.copytree(straight, tmp_path / "run"))
    shutil.rmtree(run / "checkpoints" / "step_0000007")
    _fit(run, tiny_overrides, 7, resume=True)
    rows = _metrics(straight)
    assert _metrics(run) == rows
    assert {"lecam", "ada_p", "ada_rt"} <= set(rows[0])
    assert 0 < rows[5]["ada_p"] < rows[6]["ada_p"]  # the saved p was in use, and the saved half interval moved it


def test_a_checkpoint_from_before_lecam_and_ada_loads_with_them_at_zero(tmp_path, straight):
    checkpoint = Path(shutil.copytree(straight / "checkpoints" / "step_0000005", tmp_path / "step_0000005"))
    training = load_file(checkpoint / "training_state.safetensors")
    assert training["lecam.real"] != 0 and training["ada.p"] != 0 and training["ada.steps"] == 1
    save_file({k: v for k, v in training.items() if not k.startswith(("lecam.", "ada."))},
              checkpoint / "training_state.safetensors")
    recipe = validate(tomllib.loads((straight / "config.toml").read_text()))
    pool = load_pool(recipe.data)
    train = torch.tensor(json.loads((straight / "split.json").read_text())["train"])

    def load() -> GanParts:
        parts = build_parts(recipe, pool, torch.device("cpu"))
        batches = InMemoryBatches(pool.images[train], pool.labels[train], 8, 0)
        assert load_checkpoint(checkpoint, parts, batches).step == 5
        return parts

    with pytest.raises(RunDirError, match="damaged"):  # format 3 must have them
        load()
    state = json.loads((checkpoint / "state.json").read_text())
    (checkpoint / "state.json").write_text(json.dumps({**state, "format": 2}))
    parts = load()
    assert parts.lecam.real == 0 and parts.lecam.fake == 0
    assert parts.ada.p == 0 and parts.ada.signs == 0 and parts.ada.steps == 0 and parts.ada.images == 0
