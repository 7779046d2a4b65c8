"""The blueprint a messaging channel mounts while its environment variables are unset.

The routes stay where the platform expects them, so a webhook someone configured too early gets
a clear 503 and the log says which variables turn the channel on (names only, never values).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)


def disabled_channel_blueprint(channel_name: str, missing: Sequence[str]) -> Blueprint:
    """Answers every request with 503 and says in the log how to turn the channel on."""
    needed = ", ".join(missing)
    logger.info(f"Channel '{channel_name}' is off until these are set: {needed}.")
    blueprint = Blueprint(f"{channel_name}_disabled", url_prefix=None)

    @blueprint.route("/", methods=["GET"])
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "disabled", "missing": list(missing)}, status=503)

    @blueprint.route("/webhook", methods=["GET", "POST"])
    async def webhook(_: Request) -> HTTPResponse:
        logger.warning(f"Channel '{channel_name}' got a webhook call but is off; set {needed} to turn it on.")
        return response.json({"status": "disabled"}, status=503)

    return blueprint
