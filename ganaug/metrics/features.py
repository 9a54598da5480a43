"""The feature space the metrics measure in.

FID and friends need an embedding where distance means "looks different". The
usual Inception network cannot be downloaded here, and ImageNet features suit
28 px digits poorly anyway, so the default is the run's own teacher: a
classifier trained on the run's training split only, whose penultimate layer
is the embedding. A user can supply their own as `module:function`, a callable
returning an nn.Module that maps uint8 N x C x S x S images to N x D features.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor, nn

from ganaug.data.pixels import to_unit_range
from ganaug.errors import UsageError
from ganaug.user_code import call_function, import_function

TEACHER = "teacher"


class TeacherFeatures(nn.Module):
    """uint8 images -> the teacher's penultimate-layer activations (fp32)."""

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        if not hasattr(classifier, "features"):
            raise UsageError(f"{type(classifier).__name__} has no features() layer to measure in")
        self.classifier = classifier.eval()

    def forward(self, images: Tensor) -> Tensor:
        x = to_unit_range(images).contiguous(memory_format=torch.channels_last)
        # checked in __init__; torch types a module's unknown attributes as Tensor | Module
        features = cast("Callable[[Tensor], Tensor]", self.classifier.features)
        return features(x).float()


def user_features(spec: str) -> nn.Module:
    """Import `package.module:function` and call it for the feature module."""
    subject = f"--features {spec!r}"
    if ":" not in spec:
        raise UsageError(f"{subject}: give 'teacher' or 'package.module:function'")
    module = call_function(import_function(spec, subject, "an nn.Module", UsageError), subject, UsageError)
    if not isinstance(module, nn.Module):
        raise UsageError(f"{subject} returned {type(module).__name__}, not a torch.nn.Module")
    return module.eval()


@torch.no_grad()
def embed(extractor: nn.Module, images: Tensor, *, batch_size: int = 512) -> Tensor:
    """Features of uint8 images, computed in batches on the extractor's device; returned on the CPU."""
    device = next(extractor.parameters(), torch.empty(0)).device
    out = [extractor(images[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(images), batch_size)]
    if not out:
        raise ValueError("no images to embed")
    features = torch.cat(out)
    if features.dim() != 2:
        raise UsageError(f"the feature module must return N x D features, not shape {tuple(features.shape)}")
    return features
