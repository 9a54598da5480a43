"""Choosing the device and the autocast precision: the one place that reads `--device`.

Every stage takes the same spellings: `auto` (the first GPU if there is one, else
the CPU), `cpu`, `cuda` (the current GPU) or `cuda:N` (GPU number N).
"""

from __future__ import annotations

import re

import torch

from ganaug.errors import UsageError

SPELLINGS = "auto, cpu, cuda or cuda:N"


def resolve_device(name: str | torch.device) -> torch.device:
    """The torch.device `name` asks for, refused in one line if it is misspelt or not on this machine."""
    text = str(name)
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if match is None:
        raise UsageError(f"--device {text!r} is not one of {SPELLINGS}")
    if not torch.cuda.is_available():
        raise UsageError(f"--device {text} was asked for but no CUDA GPU is visible; use --device cpu or auto")
    index = match.group(1)
    if index is not None and int(index) >= torch.cuda.device_count():
        raise UsageError(f"--device {text}: this machine has {torch.cuda.device_count()} GPU(s), numbered from 0; "
                         f"use cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return torch.device(text)


def bf16_is_fast(device: torch.device) -> bool:
    """bf16 pays off on GPUs that support it and on CPUs with native bf16 (AVX512-BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    cpu = torch.backends.cpu.get_cpu_capability()
    native = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)() or getattr(
        torch.cpu, "_is_amx_tile_supported", lambda: False)()
    return cpu.startswith("AVX512") and bool(native)


def bf16_if_fast(device: torch.device) -> torch.dtype | None:
    """For code without loss scaling (classifiers, inference): bf16 where it is fast, else fp32 (None)."""
    return torch.bfloat16 if bf16_is_fast(device) else None


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """None means plain fp32. auto: bf16 where it is fast; on a GPU without bf16, fp16 (the training step then
    scales its losses); on a CPU without native bf16, fp32."""
    if precision == "auto":
        if bf16_is_fast(device):
            return torch.bfloat16
        return torch.float16 if device.type == "cuda" else None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
