"""Recipes: TOML files validated on load into a typed, immutable config.

Every section forbids unknown keys and checks types and bounds, so a typo or
an impossible value fails before any data is loaded, with a one-line message
that names the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import tomli_w
import tomllib
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import ErrorDetails

from ganaug.data.sources import NEEDS_ROOT, SOURCES, TAKES_ARGUMENT, source_kind
from ganaug.errors import ConfigError
from ganaug.gan.diffaugment import POLICIES
from ganaug.gan.losses import LOSSES
from ganaug.gan.models import MODELS, check_options
from ganaug.gan.regularisers import REGULARISERS
from ganaug.io import describe_os_error
from ganaug.limits import SEED_MAX, WIDTH_MAX


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class DataConfig(Section):
    source: str = "digits"
    """A name in ganaug.data.sources.SOURCES, with its argument where it takes one (torchvision:MNIST,
    import:package.module:factory)."""
    root: str = ""
    """Folder for torchvision data sets and image folders (an import: factory takes no arguments)."""
    download: bool = False
    image_size: int = 0
    """Images are resized (shorter side) and centre-cropped to this square size; 0 (auto): the power of two
    nearest the images' median shorter side, so small crops are not blown up and large photos not kept huge."""
    channels: Literal[0, 1, 3] = 0
    """0 keeps the source's channels; 1 or 3 converts."""
    val_fraction: float = Field(0.15, gt=0, lt=1)
    test_fraction: float = Field(0.15, gt=0, lt=1)
    """Ignored where the source has its own test split (torchvision train=False)."""
    train_per_class: int = Field(0, ge=0)
    """Keep at most this many training images per class (0: all), to simulate little data."""
    imbalance_ratio: float = 1.0
    """Make the training split long-tailed: class i keeps n * ratio^(-i/(K-1)) images (rounded, at least 1; a ratio
    that would leave a class less than one image keeps one), from n = train_per_class (or, when that is 0, the
    smallest class's training count) for class 0 down to n / ratio for the last, in class order as in the papers.
    1: balanced. Validation and test are not touched (ganaug.data.split.long_tail_counts)."""
    split_seed: int = Field(0, ge=0, le=SEED_MAX)
    on_error: Literal["raise", "skip"] = "raise"
    """An image file that cannot be read: stop with its name (raise), or leave it out and list it in run.json."""

    @field_validator("image_size")
    @classmethod
    def _power_of_two(cls, size: int) -> int:
        if size != 0 and (size < 16 or size > 256 or size & (size - 1)):
            raise ValueError(f"data.image_size must be a power of two from 16 to 256, or 0 for the data's own size, "
                             f"not {size} (images of other sizes are resized to it)")
        return size

    @field_validator("imbalance_ratio")
    @classmethod
    def _at_least_one(cls, ratio: float) -> float:
        if ratio < 1:
            raise ValueError(f"data.imbalance_ratio must be at least 1 (1: balanced; 100: the first class has 100 "
                             f"times the last one's training images), not {ratio:g}")
        return ratio

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("data.val_fraction + data.test_fraction must be below 1")
        kind = source_kind(self.source)
        if kind not in SOURCES or (":" in self.source) != (kind in TAKES_ARGUMENT):
            names = [f"{n}:{TAKES_ARGUMENT[n]}" if n in TAKES_ARGUMENT else n for n in SOURCES.names()]
            raise ValueError(f"data.source {self.source!r} is unknown; choose one of: {', '.join(names)}")
        if kind in TAKES_ARGUMENT and not self.source.partition(":")[2]:
            raise ValueError(f"data.source {self.source!r} needs {TAKES_ARGUMENT[kind]} after the colon")
        if kind in NEEDS_ROOT and not self.root:
            raise ValueError(f"data.root must name a folder for data.source = {self.source!r}")
        return self


class ModelConfig(Section):
    name: str = "dcgan"
    conditional: bool = False
    """Condition G on the class (conditional batch norm) and D by projection."""
    z_dim: int = Field(100, ge=1, le=WIDTH_MAX)
    g_width: int = Field(64, ge=1, le=WIDTH_MAX)
    d_width: int = Field(64, ge=1, le=WIDTH_MAX)
    spectral_norm: bool = False
    d_norm: Literal["auto", "batch", "none"] = "auto"
    """auto: none for wgan-gp or spectral norm (as those papers do), batch norm otherwise."""
    ac_weight: float = Field(0.0, ge=0)
    """Weight of an AC-GAN auxiliary classifier loss (0: no auxiliary head)."""
    options: dict[str, Any] = {}
    """[model.options]: the architecture's own settings, its factory's keyword-only arguments, checked against them
    here (ganaug.gan.models.check_options). Kept as written, so a recipe round-trips; the spec gets the defaults."""
    g_regularisers: dict[str, Annotated[float, Field(gt=0)]] = {}
    """[model.g_regularisers]: generator loss terms by name (ganaug.gan.regularisers) and their weights."""

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if self.name not in MODELS:
            raise ValueError(f"model.name {self.name!r} is unknown; choose one of: {', '.join(MODELS.names())}")
        if self.ac_weight > 0 and not self.conditional:
            raise ValueError("model.ac_weight > 0 needs model.conditional = true")
        unknown = [name for name in self.g_regularisers if name not in REGULARISERS]
        if unknown:
            names = ", ".join(REGULARISERS.names())
            raise ValueError(f"model.g_regularisers.{unknown[0]} is not a generator regulariser; "
                             + (f"choose one of: {names}" if names else "none is registered"))
        check_options(self.name, self.options)
        return self


class LossConfig(Section):
    name: str = "vanilla"
    gp_weight: float = Field(10.0, ge=0)
    """wgan-gp: weight of the gradient penalty."""
    clip: float = Field(0.01, gt=0)
    """wgan: critic weights are clipped to [-clip, clip]."""
    lecam_weight: float = Field(0.0, ge=0)
    """Weight of the LeCam regulariser (Tseng et al. 2021) in the discriminator loss, for any model and loss (0: off).
    It pulls D's scores towards moving averages of the other side's, against D overfitting little data; the paper
    uses about 0.3 with the hinge loss on BigGAN-type models. Logged as the metric `lecam` (ganaug.gan.lecam)."""

    @model_validator(mode="after")
    def _check(self) -> LossConfig:
        if self.name not in LOSSES:
            raise ValueError(f"loss.name {self.name!r} is unknown; choose one of: {', '.join(LOSSES.names())}")
        return self


class TrainConfig(Section):
    steps: int = Field(300, ge=1, le=10**9)
    """Total generator steps of the run (a resumed run continues up to this)."""
    batch_size: int = Field(64, ge=2, le=4096)
    lr_g: float = Field(2e-4, gt=0)
    """May change on --resume (e.g. lowered after a divergence); run.json records each session's."""
    lr_d: float = Field(2e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    d_steps: int = Field(1, ge=1)
    """Discriminator updates per generator update."""
    class_balance: bool = False
    """Draw real batches with every class equally likely (images inversely to their class's frequency, with
    replacement). A conditional GAN is asked for the classes of its real batch, so on long-tailed data it otherwise
    learns a class with 3 of 745 images from 0.4 % of its steps. Off: every image once per pass."""
    ema_decay: float = Field(0.999, ge=0, lt=1)
    diffaugment: str = ""
    """Comma-separated DiffAugment policies: color, translation, cutout ("" = off)."""
    ada_target: float = Field(0.0, ge=0, lt=1)
    """Adaptive augmentation (ADA, Karras et al. 2020; 0: off, the policies augment every image): apply the
    diffaugment policies to each image with a probability p that starts at 0 and rises while D's mean sign on real
    images, r_t, is above this target, falls while it is below (the paper uses 0.6). Logged as `ada_p` and `ada_rt`
    (ganaug.gan.ada). Needs train.diffaugment."""
    ada_interval: int = Field(4, ge=1)
    """ADA: steps over which r_t is measured; p moves once per interval."""
    ada_kimg: float = Field(500.0, gt=0)
    """ADA: thousands of real images (as D sees them) for p to go from 0 to 1 at most. The paper's 500 suits runs of
    millions of images; a run of a few hundred small-batch steps needs about 5-10 for p to move at all."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """auto: bf16 autocast where the hardware is fast at it; else fp16 with loss scaling on a GPU, fp32 on a CPU."""
    channels_last: bool = True
    compile: bool = False
    """torch.compile G and D (the first steps are slower while it compiles; where it cannot compile, fit warns and
    trains without it)."""
    seed: int = Field(0, ge=0, le=SEED_MAX)

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        unknown = [p for p in self.diffaugment_policies if p not in POLICIES]
        if unknown:
            raise ValueError(f"train.diffaugment has unknown policy {unknown[0]!r}; use any of {', '.join(POLICIES)}")
        if self.ada_target > 0 and not self.diffaugment_policies:
            raise ValueError("train.ada_target > 0 adapts how often the DiffAugment policies apply, but "
                             "train.diffaugment sets none; set train.diffaugment (e.g. \"color,translation,cutout\") "
                             "or train.ada_target = 0")
        return self

    @property
    def diffaugment_policies(self) -> list[str]:
        return [p.strip() for p in self.diffaugment.split(",") if p.strip()]


class LogConfig(Section):
    every: int = Field(10, ge=1)
    """Write the metrics log every this many steps."""
    sample_every: int = Field(100, ge=1)
    checkpoint_every: int = Field(100, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    grid_columns: int = Field(10, ge=1, le=100)
    tensorboard: bool = False
    """Also write the losses, D scores, evaluations and sample grids to RUN_DIR/tensorboard (needs the tensorboard
    package: pip install 'ganaug[tensorboard]')."""


class EvalConfig(Section):
    every: int = Field(0, ge=0)
    """Measure the EMA generator every this many steps and keep the best checkpoint by validation FID (0: off)."""
    count: int = Field(1000, ge=20, le=100_000)
    """Generated images per evaluation (the same noise every time, so evaluations are comparable)."""


class Recipe(Section):
    description: str = ""
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    loss: LossConfig = LossConfig()
    train: TrainConfig = TrainConfig()
    log: LogConfig = LogConfig()
    eval: EvalConfig = EvalConfig()

    @property
    def d_norm(self) -> str:
        if self.model.d_norm != "auto":
            return self.model.d_norm
        return "none" if self.loss.name == "wgan-gp" or self.model.spectral_norm else "batch"

    def to_toml(self) -> str:
        return tomli_w.dumps(self.model_dump())


def recipe_dirs() -> list[Path]:
    """Where named recipes live: inside the installed package, or the source checkout's recipes/."""
    return [Path(str(resources.files("ganaug") / "recipes")), Path(__file__).resolve().parents[1] / "recipes"]


def builtin_recipes() -> list[str]:
    return sorted({p.stem for d in recipe_dirs() if d.is_dir() for p in d.glob("*.toml")})


def find_recipe(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"recipe file {name_or_path!r} does not exist")
        return path
    for folder in recipe_dirs():
        candidate = folder / f"{name_or_path}.toml"
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"unknown recipe {name_or_path!r}; use a .toml path or one of: {', '.join(builtin_recipes())}"
    )


def parse_override(text: str) -> tuple[list[str], Any]:
    """`section.key=value`; the value is read as TOML (numbers, booleans, strings, lists), else as a string."""
    key, sep, raw = text.partition("=")
    parts = override_key(key if sep else "", text)  # without "=" it is no override at all
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return parts, value


def override_key(key: str, text: str) -> list[str]:
    """`section.key` -> [section, key]; `text` is the whole override, for the message."""
    parts = key.strip().split(".")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"--set {text!r} must look like section.key=value, e.g. train.steps=500")
    return parts


def load_recipe(name_or_path: str, overrides: Sequence[str] | Mapping[str, Any] = ()) -> tuple[Recipe, str]:
    """Read, override and validate a recipe. Returns the config and the recipe's name."""
    path = find_recipe(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"recipe {path} is not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"cannot read recipe {path}: {describe_os_error(e)}") from None
    given = apply_overrides(raw, overrides)
    return validate(raw, source=str(path), overrides=given), path.stem


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str] | Mapping[str, Any]) -> dict[str, str]:
    """Set each override in the raw recipe `raw`: `section.key=value` texts (--set), or {"section.key": value} with
    Python values (ganaug.load_recipe). Returns {"section.key": the override as text} for validate's messages."""
    if isinstance(overrides, Mapping):
        items = [(f"{name}={value!r}", override_key(name, f"{name}={value!r}"), value)
                 for name, value in overrides.items()]
    else:
        items = [(text, *parse_override(text)) for text in overrides]
    given = {}
    for text, (section, key), value in items:
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"--set {text!r}: {section!r} is not a section of the recipe")
        table[key] = value
        given[f"{section}.{key}"] = text
    return given


def validate(raw: dict[str, Any], source: str = "recipe", overrides: Mapping[str, str] = {}) -> Recipe:
    """A typed Recipe; problems name the `--set` that caused them, else the recipe file."""
    try:
        return Recipe.model_validate(raw)
    except pydantic.ValidationError as e:
        problems = [(_blame(item, overrides) or source, message) for item, message in _problems(e)]
        first = problems[0][0]
        raise ConfigError(f"{first}: " + "; ".join(m if where == first else f"{where}: {m}"
                                                   for where, m in problems)) from None


def _problems(error: pydantic.ValidationError) -> list[tuple[ErrorDetails, str]]:
    """Each problem with its message: 'train.steps: Input should be greater than or equal to 1'."""
    messages = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        if item["type"] == "extra_forbidden":
            messages.append((item, f"unknown key {key!r}" + _known_keys_hint(item["loc"])))
        elif item["type"] == "value_error":
            messages.append((item, str(item["ctx"]["error"])))
        else:
            messages.append((item, f"{key}: {item['msg']} (got {item['input']!r})" if key else item["msg"]))
    return messages


def _blame(item: ErrorDetails, overrides: Mapping[str, str]) -> str | None:
    """The --set that a problem comes from, if one does."""
    key = ".".join(str(part) for part in item["loc"][:2])
    if key in overrides:
        return f"--set {overrides[key]!r}"
    message = str(item.get("ctx", {}).get("error", ""))
    for name, text in overrides.items():  # a check across keys (loc is the section) that names this key
        if name.startswith(f"{key}.") and name in message:
            return f"--set {text!r}"
    return None


def _known_keys_hint(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] = Recipe
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return ""
        model = field.annotation
    return f" (known keys: {', '.join(model.model_fields)})"

