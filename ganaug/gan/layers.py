"""Building blocks shared by the GAN models."""

from __future__ import annotations

from torch import Tensor, nn


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are looked up per class (de Vries et al. 2017)."""

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.scale = nn.Embedding(num_classes, num_features)
        self.shift = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        if y is None:
            raise ValueError("a conditional generator needs class labels y")
        h = self.norm(x)
        return h * self.scale(y)[:, :, None, None] + self.shift(y)[:, :, None, None]


class BatchNorm2d(nn.BatchNorm2d):
    """Plain batch norm with the conditional layer's call signature (ignores y)."""

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # type: ignore[override]
        return super().forward(x)


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.: conv weights ~ N(0, 0.02); batch-norm scale ~ N(1, 0.02), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def add_spectral_norm(module: nn.Module) -> None:
    """Miyato et al. 2018: constrain every conv, linear and embedding to spectral norm 1."""
    for child in list(module.modules()):
        if isinstance(child, (nn.Conv2d, nn.Linear, nn.Embedding)):
            nn.utils.parametrizations.spectral_norm(child)
