"""Building blocks shared by the GAN models."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ganaug.gan.models import DiscriminatorOutput


class ConditionalNorm(nn.Module):
    """Any norm layer, made class-conditional (de Vries et al. 2017) when num_classes > 0.

    It wraps the norm rather than subclassing it, so nn.SyncBatchNorm.convert_sync_batchnorm (which swaps every
    batch norm it finds) converts the inner layer and this layer keeps its forward(x, y). Conditional: `norm`
    needs affine=False, and a per-class scale and shift (embeddings starting at 1 and 0) replace its affine
    parameters. Unconditional: the norm alone, y ignored, so both kinds take the same call.
    """

    def __init__(self, norm: nn.Module, num_classes: int = 0) -> None:
        super().__init__()
        self.norm = norm
        self.scale: nn.Embedding | None = None
        self.shift: nn.Embedding | None = None
        if num_classes:
            channels = _conditioned_channels(norm)
            self.scale = nn.Embedding(num_classes, channels)
            self.shift = nn.Embedding(num_classes, channels)
            nn.init.ones_(self.scale.weight)
            nn.init.zeros_(self.shift.weight)
        self.register_load_state_dict_pre_hook(_inner_norm_keys)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.norm(x)
        if self.scale is None or self.shift is None:
            return h
        if y is None:
            raise ValueError("a conditional norm needs class labels y")
        return _modulate(h, self.scale(y), self.shift(y))


class ProjectedNorm(nn.Module):
    """Any norm layer with its gain and bias projected linearly from a conditioning vector (BigGAN, Brock et al. 2019).

    BigGAN's class-conditional batch norm: the class goes through one embedding shared by every layer (often joined
    by a chunk of z), and each layer maps that vector to its own gain (1 + W_g c) and bias (W_b c), instead of
    ConditionalNorm's embedding table per layer: fewer parameters, and classes share what they learn. It wraps the
    norm, as ConditionalNorm does, so convert_sync_batchnorm converts the inner layer. cond_dim > 0: `norm` needs
    affine=False. cond_dim = 0: the norm alone, the vector ignored.
    """

    def __init__(self, norm: nn.Module, cond_dim: int = 0) -> None:
        super().__init__()
        self.norm = norm
        self.to_gain: nn.Linear | None = None
        self.to_bias: nn.Linear | None = None
        if cond_dim:
            channels = _conditioned_channels(norm)
            self.to_gain = nn.Linear(cond_dim, channels, bias=False)
            self.to_bias = nn.Linear(cond_dim, channels, bias=False)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """c: N x cond_dim conditioning vectors (None when unconditional)."""
        h = self.norm(x)
        if self.to_gain is None or self.to_bias is None:
            return h
        if c is None:
            raise ValueError("a conditional norm needs its conditioning vector")
        return _modulate(h, 1 + self.to_gain(c), self.to_bias(c))


def _conditioned_channels(norm: nn.Module) -> int:
    """The channel count of a norm whose scale and shift the conditioning will supply (so it must have none)."""
    if getattr(norm, "affine", False):
        raise ValueError("a conditional norm brings its own scale and shift: give it a norm with affine=False")
    channels = getattr(norm, "num_features", getattr(norm, "num_channels", None))
    if channels is None:
        raise TypeError(f"cannot tell how many channels {type(norm).__name__} normalises")
    return int(channels)


def _modulate(h: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
    """h (N x C x ...) scaled and shifted per sample and channel by N x C tensors."""
    shape = (len(h), -1) + (1,) * (h.dim() - 2)  # N x C x 1 x 1 for images
    return h * scale.view(shape) + shift.view(shape)


def _inner_norm_keys(module: nn.Module, state_dict: dict[str, Any], prefix: str, *_: Any) -> None:
    """Checkpoints written before ConditionalNorm held the unconditional layer as the batch norm itself
    ('norms.0.weight'): tensors directly under this layer belong to the inner norm ('norms.0.norm.weight')."""
    for key in [k for k in state_dict if k.startswith(prefix) and "." not in k[len(prefix):]]:
        state_dict[f"{prefix}norm.{key[len(prefix):]}"] = state_dict.pop(key)


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


def projection_output(score: Tensor, pooled: Tensor, y: Tensor | None, embed: nn.Module | None,
                      classifier: nn.Module | None) -> DiscriminatorOutput:
    """D's output from its unconditional score and pooled features: the projection term <embed(y), pooled> (Miyato &
    Koyama 2018) when conditional, and the AC-GAN logits when D has that head."""
    if embed is not None:
        if y is None:
            raise ValueError("a conditional discriminator needs class labels y")
        score = score + (embed(y) * pooled).sum(dim=1)
    return DiscriminatorOutput(score, classifier(pooled) if classifier is not None else None)
