"""Command-line choices read from a registry when they are needed, not when `ganaug` starts.

A registry is the only list of its names: `--labels` accepts what LABELLERS holds, and
`--help` shows it. Importing the registry loads torch, so it happens only when an option
is checked or its help is shown, and `ganaug --help` stays quick.
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class RegistryChoice(click.ParamType):
    """One name of the registry `module:attribute`, e.g. 'ganaug.labels.labellers:LABELLERS'."""

    def __init__(self, registry: str) -> None:
        self.registry = registry
        self.name = registry.rpartition(":")[2].lower()

    def names(self) -> list[str]:
        module, _, attribute = self.registry.partition(":")
        return getattr(importlib.import_module(module), attribute).names()

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return f"[{'|'.join(self.names())}]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if value not in self.names():
            self.fail(f"{value!r} is not one of {', '.join(self.names())}", param, ctx)
        return value


device_option = click.option(
    "--device", default="auto", show_default=True, metavar="auto|cpu|cuda|cuda:N",
    help="Where to run: auto takes the first GPU if there is one, else the CPU.")
"""The one --device option every command shares; ganaug.device.resolve_device checks the value."""
