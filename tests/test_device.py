"""--device: the spellings every command accepts, and one-line refusals for the rest."""

from __future__ import annotations

import warnings

import pytest
import torch

from ganaug.device import autocast_dtype, bf16_if_fast, resolve_device
from ganaug.errors import UsageError


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "cuda:-1", "cpu:0", "CUDA", ""])
def test_misspelt_devices_name_the_spellings(name: str) -> None:
    with pytest.raises(UsageError, match="auto, cpu, cuda or cuda:N"):
        resolve_device(name)


def test_cpu_and_auto() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_a_gpu_says_what_to_use(name: str) -> None:
    with pytest.raises(UsageError, match="no CUDA GPU is visible; use --device cpu or auto"):
        resolve_device(name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_n_picks_that_gpu_and_refuses_one_that_is_not_there() -> None:
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(UsageError, match="numbered from 0"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_precision_auto_never_runs_fp16_without_loss_scaling(monkeypatch) -> None:
    from ganaug import device as device_module

    monkeypatch.setattr(device_module, "bf16_is_fast", lambda d: False)
    assert autocast_dtype("auto", torch.device("cpu")) is None
    assert autocast_dtype("auto", torch.device("cuda")) == torch.float16  # the step then scales its losses
    assert bf16_if_fast(torch.device("cuda")) is None  # code without loss scaling stays in fp32
    monkeypatch.setattr(device_module, "bf16_is_fast", lambda d: True)
    assert autocast_dtype("auto", torch.device("cuda")) == torch.bfloat16
    assert [autocast_dtype(p, torch.device("cpu")) for p in ("fp32", "bf16", "fp16")] == [
        None, torch.bfloat16, torch.float16]


def _tiny_step(tmp_path, **overrides: str):
    from conftest import TINY

    from ganaug.config import load_recipe
    from ganaug.data import InMemoryBatches, load_pool
    from ganaug.stages.fit.run import build_parts, build_step

    recipe = load_recipe("digits", [f"{k}={v}" for k, v in {**TINY, **overrides}.items()])[0]
    pool = load_pool(recipe.data)
    parts = build_parts(recipe, pool, torch.device("cpu"))
    batches = InMemoryBatches(pool.images, pool.labels, recipe.train.batch_size, 0)
    return parts, build_step(recipe, parts, batches, torch.device("cpu"))


def test_fp16_scales_the_losses_and_trains(tmp_path) -> None:
    parts, step = _tiny_step(tmp_path, **{"train.precision": "fp16"})
    assert step.scale_d.is_enabled() and step.scale_g.is_enabled()
    before = [p.detach().clone() for p in parts.generator.parameters()]
    for _ in range(3):
        metrics = step()
    assert all(torch.isfinite(v) for v in metrics.values())
    assert step.scale_g.get_scale() > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, parts.generator.parameters(), strict=True))


def test_compile_falls_back_to_eager_with_one_warning_and_keeps_the_checkpoint_keys(tmp_path, monkeypatch) -> None:
    def broken(module):
        def call(*args):
            raise RuntimeError("no C++ compiler found\nsecond line")
        return call

    monkeypatch.setattr(torch, "compile", broken)
    parts, step = _tiny_step(tmp_path, **{"train.compile": "true"})
    with pytest.warns(RuntimeWarning, match=r"torch.compile failed \(no C\+\+ compiler found\); training without"):
        metrics = step()
    assert torch.isfinite(metrics["loss_d"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        step()
    assert not any("_orig_mod" in key for key in parts.generator.state_dict())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_a_fit_on_the_gpu_keeps_its_data_there_and_resumes(tmp_path) -> None:
    from conftest import TINY

    from ganaug.config import load_recipe
    from ganaug.stages.fit.run import fit

    settings = {**TINY, "train.precision": "auto", "log.checkpoint_every": "10", "eval.every": "0"}
    recipe = load_recipe("digits", [f"{k}={v}" for k, v in settings.items()] + ["train.steps=20"])[0]
    result = fit(recipe, tmp_path / "r", device="cuda", progress=False)
    session = result.run.read_info()["sessions"][-1]
    assert session["device"].startswith("cuda") and session["precision"] in ("bfloat16", "float16")
    longer = load_recipe("digits", [f"{k}={v}" for k, v in settings.items()] + ["train.steps=30"])[0]
    assert fit(longer, tmp_path / "r", device="cuda", progress=False, resume=True).steps == 30


def test_fp16_loss_scales_survive_a_checkpoint(tmp_path) -> None:
    from ganaug.runs.checkpoint import load_checkpoint, save_checkpoint

    parts, step = _tiny_step(tmp_path, **{"train.precision": "fp16"})
    step()
    parts.scalers.d.update(new_scale=1024.0)  # as after overflows had halved it
    parts.scalers.g.update(new_scale=8.0)
    saved = save_checkpoint(tmp_path / "checkpoints", 1, parts, step.batches)
    fresh, fresh_step = _tiny_step(tmp_path, **{"train.precision": "fp16"})
    assert fresh.scalers.d.get_scale() == 65536.0
    load_checkpoint(saved, fresh, fresh_step.batches)
    assert (fresh.scalers.d.get_scale(), fresh.scalers.g.get_scale()) == (1024.0, 8.0)
    assert fresh_step.scale_d is fresh.scalers.d, "the step scales with the restored scalers"
    fp32, fp32_step = _tiny_step(tmp_path)  # an fp32 run saves no scale and loads the fp16 checkpoint's weights
    load_checkpoint(saved, fp32, fp32_step.batches)
    assert not fp32.scalers.d.is_enabled()
