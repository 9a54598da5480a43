"""Registries are the only lists of names: a new model, loss, source, labeller or classifier is one entry.

Config validation, CLI choices and messages read the registries; this test fails if code or a test spells
a registry's names out by hand again (a line quoting three or more of one registry's names and nothing else).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from ganaug.errors import GanaugError, UnknownNameError

REGISTRIES = ["ganaug.gan.models:MODELS", "ganaug.gan.losses:LOSSES", "ganaug.data.sources:SOURCES",
              "ganaug.labels.labellers:LABELLERS", "ganaug.classify.models:CLASSIFIERS",
              "ganaug.classify.classic:CLASSICAL"]
ROOT = Path(__file__).resolve().parents[1]


def registry(spec: str):
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute)


@pytest.mark.parametrize("spec", REGISTRIES)
def test_no_list_of_registered_names_by_hand(spec):
    names = set(registry(spec).names())
    offenders = []
    for path in [*ROOT.joinpath("ganaug").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py")]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            words = set(re.findall(r"""["']([\w-]+)["']""", line))
            quoted = words & names
            if len(quoted) >= 3 and quoted == words:  # a line of nothing but this registry's names
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {', '.join(sorted(quoted))}")
    assert offenders == [], "read the registry instead of listing its names"


@pytest.mark.parametrize("spec", REGISTRIES)
def test_a_registry_miss_is_a_ganaug_error_that_names_the_choices(spec):
    reg = registry(spec)
    with pytest.raises(UnknownNameError) as caught:
        reg.get("no-such-name")
    assert isinstance(caught.value, GanaugError) and isinstance(caught.value, KeyError)
    message = str(caught.value)
    assert message.startswith(f"unknown {reg.kind} 'no-such-name'; choose one of: ")
    assert all(name in message for name in reg.names())


def test_cli_choices_and_validation_read_the_registries(cli, cli_error, tmp_path, monkeypatch):
    from ganaug.data.sources import SOURCES, digits
    from ganaug.labels.labellers import LABELLERS, Uniform

    monkeypatch.setitem(LABELLERS._entries, "my-labels", Uniform)
    monkeypatch.setitem(SOURCES._entries, "my-source", digits)
    assert "my-labels" in cli(["augment", "--help"]).output
    assert "my-labels" in cli_error(cli(["augment", tmp_path, "--out", tmp_path / "s", "--labels", "nope"]))
    assert "my-source" in cli_error(cli(["fit", "digits", "--out", tmp_path / "r", "--set", "data.source=nope"]))
