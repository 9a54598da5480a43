"""Calling a user's own function, named `package.module:function` (`--features`, `data.source = "import:..."`).

Whatever goes wrong on the user's side (a misspelt name, a module that fails to
import, a function that raises) is reported in one line of the caller's error
class, naming the option it came from, instead of as our traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ganaug.errors import GanaugError
from ganaug.io import first_line


def import_function(spec: str, subject: str, returns: str, error: type[GanaugError]) -> Callable[[], object]:
    """The function `spec` names. `subject` starts every message (e.g. "--features 'x:y'"); `returns` says what
    the function should give back ("an nn.Module")."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise error(f"{subject}: name a function as 'package.module:function'")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except Exception as e:  # ImportError, AttributeError, or the module's own code failing on import
        raise error(f"{subject}: cannot import it ({type(e).__name__}: {first_line(e)}); check the spelling and "
                    "that the module is importable (installed or on PYTHONPATH)") from None
    if not callable(function):
        raise error(f"{subject} names an object of type {type(function).__name__}, not a function; name a "
                    f"function that returns {returns}")
    return function


def call_function(function: Callable[[], object], subject: str, error: type[GanaugError]) -> object:
    """Call the user's function with no arguments; an exception it raises becomes one line."""
    try:
        return function()
    except Exception as e:  # the user's own code: report it, not our traceback
        raise error(f"{subject} failed when called ({type(e).__name__}: {first_line(e)})") from None
