"""The ResNet GAN (SNGAN / BigGAN family, ganaug/gan/resnet.py): shapes, conditioning, spectral norm, its options,
and a tiny run of its recipe through fit, resume and augment."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn.utils import parametrize

from ganaug.config import load_recipe
from ganaug.errors import ConfigError
from ganaug.gan.layers import ProjectedNorm
from ganaug.gan.models import GanSpec, create_gan
from ganaug.runs.synthset import SynthSet
from ganaug.stages.augment import augment
from ganaug.stages.fit.run import fit


def build(**kw):
    options = kw.pop("options", {})
    spec = dict(channels=1, image_size=16, z_dim=16, g_width=8, d_width=8) | kw
    return create_gan("resnet", GanSpec(**spec, options=options))


@pytest.mark.parametrize("size", [16, 32, 64])
@pytest.mark.parametrize("num_classes", [0, 3])
def test_output_shapes_and_range(size, num_classes):
    channels = 3 if size == 32 else 1
    G, D = build(image_size=size, num_classes=num_classes, channels=channels)
    y = torch.tensor([0, 1, 2, 0]) if num_classes else None
    images = G(torch.randn(4, 16), y)
    assert images.shape == (4, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1
    out = D(images, y)
    assert out.score.shape == (4,) and out.class_logits is None
    # One residual block per doubling (4x4 -> size) in G, per halving (size -> 4x4) in D.
    assert len(G.blocks) == len(D.blocks) == size.bit_length() - 3


def test_conditional_models_need_labels_and_unconditional_ones_use_plain_batch_norm():
    G, D = build(num_classes=3)
    with pytest.raises(ValueError, match="labels"):
        G(torch.randn(2, 16))
    with pytest.raises(ValueError, match="labels"):
        D(torch.zeros(2, 1, 16, 16))
    plain, _ = build()
    norms = [m for m in plain.modules() if isinstance(m, ProjectedNorm)]
    assert norms and all(m.to_gain is None and m.norm.affine for m in norms)
    assert not any(isinstance(m, nn.Embedding) for m in plain.modules())


def test_the_class_changes_the_generated_image():
    torch.manual_seed(0)
    G, _ = build(num_classes=4)
    G.eval()  # running statistics: each image depends on its own noise and class only
    z = torch.randn(1, 16).expand(4, 16)
    images = G(z, torch.arange(4))
    for a in range(4):
        for b in range(a + 1, 4):
            assert not torch.allclose(images[a], images[b], atol=1e-4), (a, b)
    assert torch.allclose(G(z, torch.full((4,), 2))[1], images[2], atol=1e-6)


def test_the_projection_term_uses_the_class():
    torch.manual_seed(0)
    _, D = build(num_classes=5)
    D.eval()
    x = torch.rand(1, 1, 16, 16).mul(2).sub(1).expand(5, 1, 16, 16)
    scores = D(x, torch.arange(5)).score
    assert len(set(scores.tolist())) == 5
    assert torch.allclose(D(x, torch.full((5,), 3)).score, scores[3].expand(5), atol=1e-6)


def test_ac_head():
    G, D = build(num_classes=7, aux_classifier=True)
    y = torch.arange(6)
    out = D(G(torch.randn(6, 16), y), y)
    assert out.class_logits is not None and out.class_logits.shape == (6, 7)


def _weighted(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]


def test_spectral_norm_everywhere_in_d_and_in_g_unless_switched_off():
    G, D = build(num_classes=3, aux_classifier=True)
    assert all(parametrize.is_parametrized(m, "weight") for m in _weighted(D))
    g_layers = [m for m in _weighted(G) if not isinstance(m, nn.Embedding)]
    assert len(g_layers) == 1 + 2 * (3 + 2 * 2) + 1  # stem; per block 3 convs, 2 norms' gain and bias; to_image
    assert all(parametrize.is_parametrized(m, "weight") for m in g_layers)
    assert not parametrize.is_parametrized(G.shared), "BigGAN leaves the shared class embedding unnormalised"
    unnormalised, D2 = build(num_classes=3, options={"g_spectral_norm": False})
    assert not any(parametrize.is_parametrized(m) for m in unnormalised.modules())
    assert all(parametrize.is_parametrized(m, "weight") for m in _weighted(D2))


def test_orthogonal_init_starts_spectral_norm_as_a_no_op():
    G, D = build(num_classes=3)
    for m in _weighted(G) + _weighted(D):
        if parametrize.is_parametrized(m, "weight"):
            original = m.parametrizations.weight.original.detach().flatten(1)
            assert torch.linalg.svdvals(original) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("hierarchical, stem_in, cond_dim", [(True, 6, 12 + 5), (False, 16, 12)])
def test_hierarchical_z_splits_the_noise_across_the_blocks(hierarchical, stem_in, cond_dim):
    """16 px: 2 blocks, z_dim 16 -> chunks of 16 // 3 = 5 for each block and the rest (6) for the stem."""
    G, _ = build(num_classes=3, options={"embedding_dim": 12, "hierarchical_z": hierarchical})
    assert G.stem.in_features == stem_in
    assert {m.to_gain.in_features for m in G.modules() if isinstance(m, ProjectedNorm)} == {cond_dim}


@pytest.mark.parametrize("num_classes", [0, 4])
def test_sync_batchnorm_conversion_keeps_the_generator_working(num_classes):
    torch.manual_seed(0)
    G, _ = build(num_classes=num_classes)
    z, y = torch.randn(4, 16), (torch.arange(4) if num_classes else None)
    G.train()(z, y)  # running statistics away from their start
    expected = G.eval()(z, y)
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(G).eval()
    assert sum(isinstance(m, nn.SyncBatchNorm) for m in synced.modules()) == 2 * 2 + 1  # 2 blocks, output norm
    assert not any(type(m) is nn.BatchNorm2d for m in synced.modules())
    assert torch.equal(synced(z, y), expected)


def test_options_are_checked_when_the_recipe_loads():
    recipe, _ = load_recipe("mnist5k-resnet")
    assert recipe.model.name == "resnet" and recipe.model.options["g_spectral_norm"] is True
    with pytest.raises(ConfigError, match=r"model\.options\.embed_dim is not an option of model 'resnet' "
                                          r"\(its options: embedding_dim, hierarchical_z, g_spectral_norm\)"):
        load_recipe("mnist5k-resnet", ["model.options={embed_dim = 64}"])
    with pytest.raises(ConfigError, match=r"model\.options\.embedding_dim: Input should be greater than or equal"):
        load_recipe("mnist5k-resnet", ["model.options={embedding_dim = 0}"])
    with pytest.raises(ConfigError, match=r"model\.options\.hierarchical_z: Input should be a valid boolean"):
        load_recipe("mnist5k-resnet", ["model.options={hierarchical_z = 'yes'}"])


def test_the_recipe_fits_resumes_and_augments(tmp_path, tiny_overrides):
    """The recipe's model, loss and training settings on tiny widths and scikit-learn's digits (quicker to read)."""
    def recipe(steps: int):
        return load_recipe("mnist5k-resnet", tiny_overrides(
            data__source="digits", train__steps=steps, train__batch_size=8, eval__every=0, log__every=1,
            log__checkpoint_every=3, log__sample_every=3, model__options="{embedding_dim = 12}"))[0]

    out = tmp_path / "run"
    first = fit(recipe(3), out, device="cpu", progress=False)
    assert first.steps == 3 and first.checkpoint is not None
    weights = load_file(first.checkpoint / "generator.safetensors")
    assert weights["shared.weight"].shape == (10, 12), "model.options reached the architecture"
    again = fit(recipe(4), out, device="cpu", progress=False, resume=True)
    assert again.steps == 4 and again.checkpoint is not None and again.checkpoint.name == "step_0000004"
    augment(out, tmp_path / "synth", count=6, device="cpu", progress=False)
    images = SynthSet(tmp_path / "synth").all_images()
    assert images.shape == (6, 1, 16, 16) and images.float().std() > 0
