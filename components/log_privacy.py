"""Keeps patients' words and the triage record out of the Rasa server's logs.

Rasa 3.6 logs exceptions through structlog with every local variable of every frame
(`dict_tracebacks` in JSON logs, rich tracebacks on a terminal). Its response interpolator
logs such an exception for each button whose payload carries entities
(`/inform{"pain_location":"behind_kneecap"}`): the locals hold every slot, so the triage record
reached the log at every question. This module adds one structlog processor, just before the
renderer, that

- drops the interpolator's event for a button payload (it is expected, not an error), and
- replaces any other exception with its type and where it happened: no locals, no message
  (an exception's message can quote what the patient wrote).

Installed when Rasa loads the project's components (components/__init__.py). It changes the
processor list in place, so loggers that Rasa already cached get it too.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import structlog

_INTERPOLATOR_EVENT = "interpolator.interpolate.text"
# The renderers and exception formatters the processor must run before.
_OUTPUT_PROCESSORS = (
    "dict_tracebacks",
    "JSONRenderer",
    "ConsoleRenderer",
    "HumanConsoleRenderer",
    "ExceptionRenderer",
    "format_exc_info",
    "KeyValueRenderer",
    "LogfmtRenderer",
)


def _processor_name(processor: Any) -> str:
    return getattr(processor, "__name__", None) or type(processor).__name__


def scrub_exceptions(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: no locals, no exception messages, no interpolator payload noise."""
    if event_dict.get("event") == _INTERPOLATOR_EVENT and str(event_dict.get("response", "")).startswith("/"):
        raise structlog.DropEvent
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        elif isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        if isinstance(exc_info, tuple) and exc_info[0] is not None:
            frames = traceback.extract_tb(exc_info[2]) if exc_info[2] is not None else []
            where = f" at {frames[-1].filename.rsplit('site-packages/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
            event_dict["exception"] = f"{exc_info[0].__name__}{where}"
    return event_dict


def install() -> None:
    """Adds scrub_exceptions before structlog's output processors (once)."""
    processors = structlog.get_config()["processors"]
    if scrub_exceptions in processors:
        return
    position = next((i for i, p in enumerate(processors) if _processor_name(p) in _OUTPUT_PROCESSORS), len(processors))
    processors.insert(position, scrub_exceptions)
