"""--device: the spellings every command accepts, and one-line refusals for the rest."""

from __future__ import annotations

import pytest
import torch

from ganaug.device import resolve_device
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
