"""Checks each action server answer against Rasa's schema once, not the schema itself every time.

Rasa 3.6 validates every answer of the action server (`RemoteAction._validate_action_result`)
with `jsonschema.validate(answer, schema)`. That function first checks the *schema* against the
JSON Schema meta-schema, then builds a validator, then checks the answer. The schema never
changes, but with jsonschema 4.17 checking it is the slow part: about 20 ms of CPU for each call
to the action server, against about 1 ms for the answer itself, and most turns of the triage
questions call the action server (`python scripts/bench_action_check.py` prints both numbers).

`install()` swaps that method for one that checks the schema once, at import, and keeps the
same behaviour for answers: True for a valid one; for an invalid one, the same
`jsonschema.ValidationError` (the best match, as `jsonschema.validate` picks it) with the same
hint about the expected format appended.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_SCHEMA = RemoteAction.action_response_format_spec()
_VALIDATOR_CLASS = jsonschema.validators.validator_for(_SCHEMA)
_VALIDATOR_CLASS.check_schema(_SCHEMA)
_VALIDATOR = _VALIDATOR_CLASS(_SCHEMA)

# Rasa's own method, for the tests and the benchmark to compare against.
RASA_VALIDATE = RemoteAction._validate_action_result


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's `_validate_action_result` with the validator built once."""
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    """Every RemoteAction of this process checks answers with `validate_action_result`."""
    RemoteAction._validate_action_result = validate_action_result
