"""The action server, reachable only by the Rasa server.

rasa_sdk's own server listens on every interface and checks nothing: anyone who reaches port 5055
can list the actions and post a forged call (a "delivered" call-back clinicians then see). This
one is rasa_sdk's app with two differences:

- it listens on 127.0.0.1 unless told otherwise (ACTION_SERVER_HOST; a container sets 0.0.0.0
  and keeps the port on its internal network);
- every call but GET /health must carry the shared secret ACTION_SERVER_TOKEN in the
  X-Action-Token header, which the Rasa server sends from endpoints.yml. Without a token set it
  does not start.

    python -m actions.server --port 5055
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os

from sanic import Sanic, response
from sanic.request import Request

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Action-Token"
TOKEN_VARIABLE = "ACTION_SERVER_TOKEN"
OPEN_PATHS = frozenset({"/health"})  # readiness checks carry no secret


def create_app(token: str, action_package: str = "actions") -> Sanic:
    from rasa_sdk.endpoint import create_app as sdk_app

    if not token:
        raise ValueError(f"Set {TOKEN_VARIABLE}: the action server answers only calls that carry it.")
    app = sdk_app(action_package, cors_origins=None)
    expected = token.encode()

    @app.on_request
    async def require_token(request: Request):
        if request.path in OPEN_PATHS:
            return None
        given = (request.headers.get(TOKEN_HEADER) or "").encode()
        if not hmac.compare_digest(given, expected):
            logger.warning(
                "action server: refused a call without the shared secret (%s %s)", request.method, request.path
            )
            return response.json({"error": "Not allowed."}, status=401)
        return None

    return app


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default=os.environ.get("ACTION_SERVER_HOST", "127.0.0.1"))
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    app = create_app(os.environ.get(TOKEN_VARIABLE, ""), args.actions)
    logger.info("Action server on http://%s:%s", args.host, args.port)
    app.run(args.host, args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
