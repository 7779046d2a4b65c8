"""Rasa glue: custom NLU components, the in-server safety policy and the alert broker."""

from components import action_response_check as _action_response_check
from components import action_retry as _action_retry
from components import log_privacy as _log_privacy
from components import never_silent as _never_silent

# Rasa has configured its logging by the time it loads the project's components.
_log_privacy.install()
# Each answer of the action server is checked against a schema compiled once (about 20 ms less
# CPU a call; see the module).
_action_response_check.install()
# A call to the action server whose connection drops is sent once more (see the module for why
# that is safe).
_action_retry.install()
# A patient message that got no reply at all (a failed action) gets the fixed apology instead.
_never_silent.install()
