"""Rasa glue: custom NLU components, the in-server safety policy and the alert broker."""
from components import log_privacy as _log_privacy

# Rasa has configured its logging by the time it loads the project's components.
_log_privacy.install()
