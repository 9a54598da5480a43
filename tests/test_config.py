"""Recipes: loading, overrides, validation messages, TOML round trip."""

from __future__ import annotations

import pydantic
import pytest
import tomllib

from ganaug.config import (
    ConfigError,
    Recipe,
    builtin_recipes,
    find_recipe,
    load_recipe,
    parse_override,
    validate,
)


def config_error(name: str, overrides: list[str] = ()) -> str:
    with pytest.raises(ConfigError) as info:
        load_recipe(name, list(overrides))
    message = str(info.value)
    assert "\n" not in message, "config errors are one line"
    return message


def test_builtin_recipes_are_listed():
    assert set(builtin_recipes()) >= {"digits", "mnist5k", "cifar10", "folder", "dcgan64"}


@pytest.mark.parametrize("name", builtin_recipes())
def test_every_builtin_recipe_loads(name):
    recipe, stem = load_recipe(name)
    assert isinstance(recipe, Recipe)
    assert stem == name
    assert recipe.description  # each recipe says what it is for


def test_recipe_values_come_from_the_file():
    recipe, _ = load_recipe("mnist5k")
    assert recipe.data.source == "mnist5k"
    assert recipe.data.train_per_class == 50
    assert recipe.model.conditional is True
    assert recipe.loss.name == "hinge"
    assert recipe.train.diffaugment_policies == ["color", "translation", "cutout"]
    dcgan64, _ = load_recipe("dcgan64")
    assert (dcgan64.data.image_size, dcgan64.model.g_width, dcgan64.model.d_norm) == (64, 64, "batch")


def test_recipe_from_a_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[train]\nsteps = 7\n[data]\nimage_size = 16\n')
    recipe, name = load_recipe(str(path))
    assert name == "mine"
    assert recipe.train.steps == 7 and recipe.data.image_size == 16
    assert recipe.model.name == "dcgan"  # defaults filled in


def test_missing_recipe_file_and_unknown_name(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        find_recipe(str(tmp_path / "nothere.toml"))
    message = config_error("no_such_recipe")
    assert "no_such_recipe" in message and "digits" in message  # lists what exists


def test_invalid_toml_is_a_config_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[train\nsteps = ")
    message = config_error(str(path))
    assert "not valid TOML" in message


def test_overrides_are_applied():
    recipe, _ = load_recipe("digits", ["train.steps=12", "train.lr_g=1e-3", "model.conditional=true",
                                       "train.diffaugment=color,cutout", "loss.name=hinge"])
    assert recipe.train.steps == 12
    assert recipe.train.lr_g == pytest.approx(1e-3)
    assert recipe.model.conditional is True
    assert recipe.train.diffaugment_policies == ["color", "cutout"]
    assert recipe.loss.name == "hinge"


def test_unknown_key_names_the_key():
    message = config_error("digits", ["train.stepz=10"])
    assert "train.stepz" in message
    assert "steps" in message.replace("train.stepz", "")  # the known keys are suggested


def test_unknown_key_in_a_recipe_file(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("[model]\nwidht = 3\n")
    assert "model.widht" in config_error(str(path))


def test_unknown_section_names_it():
    assert "trian" in config_error("digits", ["trian.steps=10"])


def test_wrong_type_names_the_key():
    message = config_error("digits", ['train.steps="ten"'])
    assert "train.steps" in message and "ten" in message
    # a bare word is read as a string too
    assert "train.steps" in config_error("digits", ["train.steps=ten"])
    # a float is not silently truncated to an int
    assert "train.steps" in config_error("digits", ["train.steps=2.5"])


@pytest.mark.parametrize(
    "override, words",
    [
        ("train.steps=0", ["train.steps"]),
        ("train.batch_size=1", ["train.batch_size"]),
        ("train.lr_g=0", ["train.lr_g"]),
        ("train.lr_d=-1e-4", ["train.lr_d"]),
        ("train.beta1=1.0", ["train.beta1"]),
        ("data.image_size=48", ["data.image_size", "power of two"]),
        ("data.image_size=8", ["data.image_size"]),
        ("data.image_size=512", ["data.image_size"]),
        ("data.channels=2", ["data.channels"]),
        ("data.val_fraction=0", ["data.val_fraction"]),
        ("data.source=imagenet", ["data.source", "imagenet"]),
        ("loss.name=nope", ["loss.name", "nope", "hinge"]),
        ("model.name=stylegan", ["model.name", "stylegan", "dcgan"]),
        ("model.d_norm=layer", ["model.d_norm"]),
        ("model.ac_weight=1", ["model.ac_weight", "conditional"]),
        ("train.diffaugment=blur", ["train.diffaugment", "blur"]),
        ("train.diffaugment=color,blur", ["blur"]),
        ("train.precision=fp8", ["train.precision"]),
        ("log.every=0", ["log.every"]),
        ("train.lr_g=nan", ["train.lr_g"]),
    ],
)
def test_impossible_values_are_refused(override, words):
    message = config_error("digits", [override])
    for word in words:
        assert word in message, (word, message)


def test_fractions_must_leave_room_for_training():
    message = config_error("digits", ["data.val_fraction=0.6", "data.test_fraction=0.5"])
    assert "data.val_fraction" in message and "data.test_fraction" in message
    recipe, _ = load_recipe("digits", ["data.val_fraction=0.4", "data.test_fraction=0.5"])
    assert recipe.data.val_fraction == 0.4


def test_ac_weight_is_fine_when_conditional():
    recipe, _ = load_recipe("digits", ["model.ac_weight=1", "model.conditional=true"])
    assert recipe.model.ac_weight == 1


def test_folder_and_torchvision_sources_need_a_root():
    assert "data.root" in config_error("digits", ["data.source=folder"])
    assert "data.root" in config_error("digits", ["data.source=torchvision:MNIST"])
    recipe, _ = load_recipe("digits", ["data.source=torchvision:MNIST", "data.root=/data"])
    assert recipe.data.root == "/data"


def test_several_problems_are_reported_on_one_line():
    message = config_error("digits", ["train.steps=0", "train.stepz=1"])
    assert "train.steps" in message and "train.stepz" in message


def test_validate_reports_the_source_name():
    with pytest.raises(ConfigError, match=r"^myfile\.toml: .*train\.steps"):
        validate({"train": {"steps": -1}}, source="myfile.toml")


def test_recipe_is_immutable():
    recipe, _ = load_recipe("digits")
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        recipe.train.steps = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("train.steps=3", (["train", "steps"], 3)),
        ("train.lr_g=2e-4", (["train", "lr_g"], 2e-4)),
        ("train.lr_g = 0.5", (["train", "lr_g"], 0.5)),
        ("model.conditional=true", (["model", "conditional"], True)),
        ("data.download=false", (["data", "download"], False)),
        ("loss.name=hinge", (["loss", "name"], "hinge")),
        ('loss.name="hinge"', (["loss", "name"], "hinge")),
        ("train.diffaugment=color,translation", (["train", "diffaugment"], "color,translation")),
        ("data.root=/tmp/some dir", (["data", "root"], "/tmp/some dir")),
        ("data.source=torchvision:MNIST", (["data", "source"], "torchvision:MNIST")),
        ("train.diffaugment=", (["train", "diffaugment"], "")),
    ],
)
def test_parse_override(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize("text", ["steps=3", "train.steps", "a.b.c=1", ".steps=1", "train.=1", "=3"])
def test_parse_override_bad_form(text):
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override(text)


def test_override_of_a_non_section(tmp_path):
    message = config_error("digits", ["description.x=1"])
    assert "description" in message


@pytest.mark.parametrize("name", builtin_recipes())
def test_to_toml_round_trips(name):
    recipe, _ = load_recipe(name, ["train.steps=17", "model.conditional=true", "train.lr_d=3e-5"])
    text = recipe.to_toml()
    again = validate(tomllib.loads(text))
    assert again == recipe
    assert again.to_toml() == text
    assert again.train.steps == 17 and again.train.lr_d == 3e-5


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ([], "batch"),
        (["loss.name=wgan-gp"], "none"),
        (["model.spectral_norm=true"], "none"),
        (["loss.name=wgan-gp", "model.d_norm=batch"], "batch"),
        (["model.d_norm=none"], "none"),
    ],
)
def test_discriminator_norm_auto(overrides, expected):
    recipe, _ = load_recipe("digits", overrides)
    assert recipe.d_norm == expected
