"""Errors a user can fix. The CLI prints these as one line, without a traceback.

Every class is a `GanaugError` and also the built-in type code written for
scikit-learn-style libraries already catches: a bad value is a `ValueError`,
a wrong type a `TypeError`, an output that cannot be written an `OSError`.
"""


SHOWN_CHARS = 60


def shown(value: object) -> str:
    """`value` as a short, one-line repr, for messages."""
    text = " ".join(repr(value).split())
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


class GanaugError(Exception):
    """A problem with the user's input or environment, with a message that says what to do."""


class UsageError(GanaugError, ValueError):
    """An argument has a value ganaug cannot use."""


class WrongTypeError(GanaugError, TypeError):
    """An argument has a type ganaug cannot use."""


class ConfigError(GanaugError, ValueError):
    """A recipe or override is invalid."""


class DataError(GanaugError, ValueError):
    """A data source is missing, empty or unreadable."""


class RunDirError(GanaugError, ValueError):
    """A run directory (or a synthetic set) is missing, incomplete, damaged or would be overwritten."""


class OutputError(GanaugError, OSError):
    """An output cannot be written: not writable, no space left, or another ganaug process is writing it."""


class TrainingDiverged(GanaugError, FloatingPointError):
    """A loss or weight became NaN or infinite; the last good checkpoint is left as it was."""


class UnknownNameError(GanaugError, KeyError):
    """A name no registry holds (a model, loss, data source, labelling strategy, classifier)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
