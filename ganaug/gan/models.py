"""The model seam: what an architecture is given (GanSpec), what it returns (Generator, Discriminator), the registry.

An architecture is one function in its own file under ganaug/gan/, registered by name:

    @MODELS.register("mine")
    def mine(spec: GanSpec, *, depth: int = 4, attention: bool = False) -> tuple[nn.Module, nn.Module]:
        return MyGenerator(spec, depth, attention), MyDiscriminator(spec, depth)

The file is imported in ganaug/gan/__init__.py, so that it registers itself. Its keyword-only parameters are
its options: a recipe sets them in `[model.options]` (on the command line, `--set 'model.options={depth = 6}'`),
and they are checked against the signature (names, types, defaults, required ones) when the recipe loads, before
any data is read, so a typo fails as `model.options.<key> is not an option of model 'mine'`. An architecture
without keyword-only parameters (DCGAN) takes no options.

The trainer, the EMA, checkpoints and RunGenerator rely on the Generator and Discriminator protocols and on
nothing else: in particular never on attributes such as `z_dim` or `num_classes` read off a module (a
DistributedDataParallel wrapper hides them); those come from the GanSpec, which GanParts carries.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, Self

import pydantic
from torch import Tensor, nn

from ganaug.errors import ConfigError, shown
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
    options: Mapping[str, Any] = field(default_factory=dict)
    """The architecture's own options ([model.options]), passed to its factory as keyword arguments."""


class DiscriminatorOutput(NamedTuple):
    score: Tensor
    """One realness score (logit or critic value) per image."""
    class_logits: Tensor | None
    """AC-GAN auxiliary classifier logits (N x num_classes) when spec.aux_classifier, else None."""


class Trainable(Protocol):
    """The nn.Module surface that fit, the EMA (a deep copy, its derived buffers re-estimated) and checkpoints (state
    dicts) use."""

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]: ...

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> Any: ...

    def requires_grad_(self, requires_grad: bool = True) -> Self: ...

    training: bool

    def modules(self) -> Iterator[nn.Module]: ...

    def named_modules(self) -> Iterator[tuple[str, nn.Module]]: ...

    def train(self, mode: bool = True) -> Self: ...

    def eval(self) -> Self: ...

    def to(self, *args: Any, **kwargs: Any) -> Self: ...


class Generator(Trainable, Protocol):
    def __call__(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """z: N x spec.z_dim noise; y: N class indices when spec.num_classes > 0, else None.

        Returns N x spec.channels x spec.image_size x spec.image_size images in [-1, 1].
        """
        ...


class Discriminator(Trainable, Protocol):
    def __call__(self, x: Tensor, y: Tensor | None = None) -> DiscriminatorOutput:
        """x: images as the generator makes them (DiffAugmented); y: N class indices when conditional, else None."""
        ...


Architecture = Callable[..., tuple[Generator, Discriminator]]
"""factory(spec, **options) -> (generator, discriminator); its keyword-only parameters are its options."""

MODELS: Registry[Architecture] = Registry("model")


def create_gan(name: str, spec: GanSpec) -> tuple[Generator, Discriminator]:
    """Build (generator, discriminator) for a registered architecture, with spec.options checked."""
    return MODELS.get(name)(spec, **check_options(name, spec.options))


def check_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """[model.options] checked against the architecture's keyword-only parameters; all options, defaults filled in.

    Raises ConfigError naming `model.options.<key>` and the options the architecture knows.
    """
    schema = options_schema(MODELS.get(name))
    try:
        return schema.model_validate(dict(options)).model_dump()
    except pydantic.ValidationError as e:
        item = e.errors()[0]
        key = f"model.options.{'.'.join(map(str, item['loc']))}"
        known = f"its options: {', '.join(schema.model_fields)}" if schema.model_fields else "it takes none"
        if item["type"] == "extra_forbidden":
            raise ConfigError(f"{key} is not an option of model {name!r} ({known})") from None
        if item["type"] == "missing":
            raise ConfigError(f"model {name!r} needs {key} ({known})") from None
        raise ConfigError(f"{key}: {item['msg']} (got {shown(item['input'])}; {known})") from None


def options_schema(factory: Architecture) -> type[pydantic.BaseModel]:
    """A strict pydantic model of the factory's keyword-only parameters (type hints, defaults; no default: required)."""
    hints = typing.get_type_hints(factory, include_extras=True)
    fields: dict[str, Any] = {
        p.name: (hints.get(p.name, Any), ... if p.default is p.empty else p.default)
        for p in inspect.signature(factory).parameters.values() if p.kind is p.KEYWORD_ONLY
    }
    config = pydantic.ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
    return pydantic.create_model(f"{getattr(factory, '__name__', 'model')} options", __config__=config, **fields)
