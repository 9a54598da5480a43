"""The `ganaug` command. User errors print one line and exit 2; no traceback."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

import click
from tqdm.auto import tqdm

from ganaug import __version__
from ganaug.errors import GanaugError
from ganaug.io import USER_ERRNOS, describe_os_error

PACKAGE = Path(__file__).resolve().parents[1]
_python_show_warning = warnings.showwarning

INTERRUPTED = {
    "fit": "a run with a checkpoint is kept (continue it with --resume); a new run without one was removed",
    "augment": "nothing was written (a set appears under its name only when complete)",
    "evaluate": "no report was written",
    "compare": "finished cells are kept in runs.csv; run the same command again to continue",
}


class Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GanaugError as e:
            _fail(str(e))
        except click.UsageError as e:  # click's own checks (types, ranges, choices): one line as well
            command = f"ganaug {ctx.invoked_subcommand}" if ctx.invoked_subcommand else "ganaug"
            _fail(f"{e.format_message()} (see {command} --help)")
        except OSError as e:
            if e.errno not in USER_ERRNOS:
                raise
            _fail(describe_os_error(e))
        except (MemoryError, RuntimeError) as e:
            if not _out_of_memory(e):
                raise
            _fail("out of memory; lower train.batch_size or the model widths (fit), --count (evaluate), or the "
                  "image size")
        except KeyboardInterrupt:
            done = INTERRUPTED.get(ctx.invoked_subcommand or "", "")
            click.echo(f"ganaug: interrupted{'; ' + done if done else ''}", err=True)
            sys.exit(130)


def _fail(message: str) -> NoReturn:
    click.echo(f"ganaug: error: {' '.join(message.split())}", err=True)
    sys.exit(2)


def _out_of_memory(error: BaseException) -> bool:
    """MemoryError, torch's OutOfMemoryError (GPU) or its CPU allocator's failure."""
    return (isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError"
            or "can't allocate memory" in str(error))


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    """ganaug's own warnings as one plain line, like its errors; other libraries' as Python shows them."""
    if issubclass(category, UserWarning) and Path(filename).resolve().is_relative_to(PACKAGE):
        tqdm.write(f"ganaug: warning: {' '.join(str(message).split())}", file=sys.stderr)  # above any bar
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


@click.group(cls=Group)
@click.version_option(__version__, prog_name="ganaug")
def main() -> None:
    """GAN-based data augmentation for PyTorch image classifiers."""
    warnings.showwarning = _show_warning


from ganaug.cli.augment import augment_command  # noqa: E402
from ganaug.cli.compare import compare_command  # noqa: E402
from ganaug.cli.evaluate import evaluate_command  # noqa: E402
from ganaug.cli.fit import fit_command  # noqa: E402

main.add_command(fit_command)
main.add_command(augment_command)
main.add_command(evaluate_command)
main.add_command(compare_command)
