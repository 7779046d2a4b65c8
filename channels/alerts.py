"""How a bot message is marked as a red-flag alert, whatever channel carries it.

The bot marks an escalation response with `custom: {alert: <level>, call: "000"}` (a domain
response, or `json_message={...}` from an action); `metadata: {alert: <level>}` on a response
is accepted too. `call` names the number the widget offers to dial. The web chat shows such a
message as an alert with tap-to-call links; text channels send the text alone, since its words
already say what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# emergency: call 000 now. crisis: Lifeline 13 11 14 (and 000). urgent: act today (ED or GP).
ALERT_LEVELS = ("emergency", "crisis", "urgent")


def alert_level(message: Mapping[str, Any]) -> str | None:
    """The alert level a bot message carries, from `custom` first, then `metadata`."""
    for key in ("custom", "metadata"):
        marker = message.get(key)
        if isinstance(marker, Mapping) and marker.get("alert") in ALERT_LEVELS:
            return marker["alert"]
    return None


def is_alert_marker(json_message: Any) -> bool:
    """True for a custom payload that marks an alert: for the widget only, nothing to send."""
    return isinstance(json_message, Mapping) and json_message.get("alert") in ALERT_LEVELS
