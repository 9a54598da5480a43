"""The GAN model registry: one entry per architecture, each building a (G, D) pair."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from torch import Tensor, nn

from ganaug.registry import Registry


@dataclass(frozen=True)
class GanSpec:
    """What an architecture needs to know; everything else is the architecture's own choice."""

    channels: int
    image_size: int
    num_classes: int = 0
    """Number of classes to condition on (0: unconditional)."""
    z_dim: int = 100
    g_width: int = 64
    d_width: int = 64
    d_norm: str = "batch"
    spectral_norm: bool = False
    aux_classifier: bool = False


class DiscriminatorOutput(NamedTuple):
    score: Tensor
    """One realness score (logit or critic value) per image."""
    class_logits: Tensor | None
    """AC-GAN auxiliary classifier logits, when the model has that head."""


MODELS: Registry[Callable[[GanSpec], tuple[nn.Module, nn.Module]]] = Registry("model")


def create_gan(name: str, spec: GanSpec) -> tuple[nn.Module, nn.Module]:
    """Build (generator, discriminator) for a registered architecture."""
    return MODELS.get(name)(spec)

