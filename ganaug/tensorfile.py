"""Tensors on disk: safetensors only (never pickle), with ordinary permissions and one-line errors.

safetensors' own `save_file` makes private (0600) files whatever the umask, so
another user of a shared run would be told it is damaged; here the bytes are
written like any other file. Loading checks the names (and, with a module, the
shapes) so a replaced or truncated file is a clear error, not a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import Tensor

from ganaug.errors import RunDirError
from ganaug.io import describe_os_error, first_line, write_bytes


class Loadable(Protocol):
    """What `load_into` needs of a module (nn.Module has it; so does any GAN protocol built on it)."""

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> Any: ...


def save_tensors(path: Path, tensors: dict[str, Tensor]) -> None:
    """Write CPU copies of `tensors` atomically, with the permissions an ordinary write gets."""
    write_bytes(path, save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}))


def load_tensors(path: Path, *, advice: str, device: str = "cpu") -> dict[str, Tensor]:
    """All tensors of a safetensors file; a missing or unreadable one is a RunDirError ending in `advice`."""
    try:
        return load_file(path, device=device)
    except OSError as e:
        raise RunDirError(f"cannot read {path}: {describe_os_error(e)}; {advice}") from None
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise RunDirError(f"{path} is not a readable safetensors file ({first_line(e)}); {advice}") from None


def load_into(module: Loadable, path: Path, *, advice: str, device: str = "cpu") -> None:
    """Load a module's weights; names or shapes that do not fit the module are a RunDirError."""
    tensors = load_tensors(path, advice=advice, device=device)
    try:
        module.load_state_dict(tensors)
    except RuntimeError as e:
        raise RunDirError(f"{path} does not hold the weights this model needs ({first_line(e)}); "
                          f"{advice}") from None

