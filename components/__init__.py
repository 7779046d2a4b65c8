"""Rasa glue: custom NLU components, the in-server safety policy and the alert broker."""
from components import action_response_check as _action_response_check
from components import log_privacy as _log_privacy

# Rasa has configured its logging by the time it loads the project's components.
_log_privacy.install()
# Each answer of the action server is checked against a schema compiled once (about 20 ms less
# CPU a call; see the module).
_action_response_check.install()
