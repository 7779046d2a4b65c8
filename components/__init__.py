"""Rasa glue: custom NLU components, the in-server safety policy and the alert broker.

Rasa imports this package when it loads the components config.yml names, before it serves a
message; that import is the one place the four patches below are installed. They replace private
methods of Rasa 3.6 (a prediction loop, a response check, the action endpoint, log records), so
another Rasa version stops here with a plain error rather than running with a patch that no longer
fits.
"""

import rasa

from components import action_response_check as _action_response_check
from components import action_retry as _action_retry
from components import log_privacy as _log_privacy
from components import never_silent as _never_silent

PATCHED_RASA = "3.6."
if not rasa.__version__.startswith(PATCHED_RASA):
    raise RuntimeError(
        f"components/ patches Rasa {PATCHED_RASA}x (never_silent, action_retry, action_response_check, "
        f"log_privacy), not Rasa {rasa.__version__}: check each patch against the new version first."
    )

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
