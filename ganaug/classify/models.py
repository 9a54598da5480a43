"""The classifier registry: a small built-in CNN, and any timm model by name.

No pretrained weights are ever loaded (nothing may be downloaded), so timm
models start from scratch with `in_chans` and `num_classes` set from the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from ganaug.errors import ConfigError
from ganaug.registry import Registry


@dataclass(frozen=True)
class ClassifierSpec:
    in_chans: int
    num_classes: int
    """Outputs of the classifier: K, or K + 1 for the `extra` labelling."""
    image_size: int


CLASSIFIERS: Registry[Callable[[ClassifierSpec], nn.Module]] = Registry("classifier")


@CLASSIFIERS.register("small-cnn")
class SmallCnn(nn.Module):
    """Four 3x3 conv layers and two poolings: trains in seconds on 16-32 px images on a CPU."""

    def __init__(self, spec: ClassifierSpec, width: int = 32) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            *block(spec.in_chans, width), *block(width, width), nn.MaxPool2d(2),
            *block(width, 2 * width), *block(2 * width, 2 * width), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
            nn.Linear(2 * width, 4 * width), nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(4 * width, spec.num_classes)

    def features(self, x: Tensor) -> Tensor:
        """The penultimate layer, a feature space learnt on the data set itself."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def check_classifier(name: str) -> None:
    """Fail now, not after minutes of set-up, if `name` is neither a registered classifier nor a timm model."""
    import timm

    if name not in CLASSIFIERS and not timm.is_model(name):
        raise ConfigError(f"unknown classifier {name!r}; use {', '.join(CLASSIFIERS.names())} or a timm model name "
                          "such as resnet18 (see timm.list_models())")


def create_classifier(name: str, spec: ClassifierSpec) -> nn.Module:
    """A registered classifier, else a timm model of that name, untrained."""
    check_classifier(name)
    if name in CLASSIFIERS:
        return CLASSIFIERS.get(name)(spec)
    import timm

    return timm.create_model(name, pretrained=False, in_chans=spec.in_chans, num_classes=spec.num_classes)
