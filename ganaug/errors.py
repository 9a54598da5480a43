"""Errors a user can fix. The CLI prints these as one line, without a traceback."""


class GanaugError(Exception):
    """A problem with the user's input or environment, with a message that says what to do."""


class ConfigError(GanaugError):
    """A recipe or override is invalid."""


class DataError(GanaugError):
    """A data source is missing, empty or unreadable."""


class RunDirError(GanaugError):
    """A run directory is missing, incomplete or would be overwritten."""


class TrainingDiverged(GanaugError):
    """A loss became NaN or infinite; the last good checkpoint is left as it was."""
