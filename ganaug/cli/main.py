"""The `ganaug` command. User errors print one line and exit 2; no traceback."""

from __future__ import annotations

import sys
from typing import Any

import click

from ganaug import __version__
from ganaug.errors import GanaugError


class Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GanaugError as e:
            click.echo(f"ganaug: error: {e}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("ganaug: interrupted; checkpoints written so far are intact (continue with --resume)", err=True)
            sys.exit(130)


@click.group(cls=Group)
@click.version_option(__version__, prog_name="ganaug")
def main() -> None:
    """GAN-based data augmentation for PyTorch image classifiers."""


from ganaug.cli.augment import augment_command  # noqa: E402
from ganaug.cli.compare import compare_command  # noqa: E402
from ganaug.cli.evaluate import evaluate_command  # noqa: E402
from ganaug.cli.fit import fit_command  # noqa: E402

main.add_command(fit_command)
main.add_command(augment_command)
main.add_command(evaluate_command)
main.add_command(compare_command)
