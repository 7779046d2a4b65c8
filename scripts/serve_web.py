"""Serves the demo clinic page with the chat widget on it.

    python scripts/serve_web.py --port 8080 --rasa-url http://localhost:5005

The page learns where the bot is from `/config.js`, written here from `--rasa-url`, so the same
static files work against any bot. Rasa must accept sockets from this page's origin: start it
with `ALLOWED_ORIGINS` holding the URL this server prints (see docs/widget.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

WEB_ROOT = Path(__file__).resolve().parents[1] / "web"
DEFAULT_RASA_URL = "http://localhost:5005"
DEMO_CLINIC_PHONE = "(03) 7010 1234"  # a number reserved for fiction by ACMA

logger = logging.getLogger("serve_web")


def widget_config(rasa_url: str, clinic_phone: str, storage: str, websocket_only: bool = False) -> dict:
    """What the widget needs to know about this deployment."""
    config = {
        "socketUrl": rasa_url.rstrip("/"),
        "title": "Knee pain helper",
        "subtitle": "Upwell Health Collective",
        "initPayload": "/greet",
        "clinicPhone": clinic_phone,
        "clinicName": "the clinic",
        "storage": storage,
    }
    if websocket_only:
        config["transports"] = ["websocket"]
    return config


def content_security_policy(rasa_url: str) -> str:
    """Scripts and styles only from here; sockets only to the bot."""
    parts = urlsplit(rasa_url)
    bot_origin = f"{parts.scheme}://{parts.netloc}"
    socket_origin = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: https:",
            f"connect-src 'self' {bot_origin} {socket_origin}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


def make_app(
    rasa_url: str = DEFAULT_RASA_URL,
    web_root: Path = WEB_ROOT,
    clinic_phone: str = DEMO_CLINIC_PHONE,
    storage: str = "session",
    websocket_only: bool = False,
) -> web.Application:
    """The web app: the page, its stylesheet, the widget files and a generated config.js."""
    config = widget_config(rasa_url, clinic_phone, storage, websocket_only)
    config_js = f"window.UpwellChatConfig = {json.dumps(config, indent=2)};\n".replace("</", "<\\/")
    csp = content_security_policy(rasa_url)

    @web.middleware
    async def security_headers(request: web.Request, handler) -> web.StreamResponse:
        response = await handler(request)
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    async def index(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(web_root / "index.html", headers={"Cache-Control": "no-cache"})

    async def config(_: web.Request) -> web.Response:
        return web.Response(
            text=config_js,
            content_type="application/javascript",
            headers={"Cache-Control": "no-store"},
        )

    async def demo_css(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(web_root / "demo.css")

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[security_headers])
    app.router.add_get("/", index)
    app.router.add_get("/index.html", index)
    app.router.add_get("/config.js", config)
    app.router.add_get("/demo.css", demo_css)
    app.router.add_get("/healthz", health)
    # Only the widget folder is served as a tree: package.json and node_modules stay private.
    app.router.add_static("/widget/", web_root / "widget", show_index=False, follow_symlinks=False)
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--host", default=os.environ.get("WEB_HOST", "127.0.0.1"), help="interface to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("WEB_PORT", "8080")), help="port to listen on (default 8080)"
    )
    parser.add_argument(
        "--rasa-url",
        default=os.environ.get("RASA_URL", DEFAULT_RASA_URL),
        help="the Rasa server the widget talks to (default %(default)s)",
    )
    parser.add_argument("--clinic-phone", default=DEMO_CLINIC_PHONE, help="clinic phone number shown in the widget")
    parser.add_argument(
        "--storage",
        choices=("session", "local"),
        default="session",
        help="where the widget keeps the transcript: 'session' is forgotten "
        "when the tab closes, 'local' is kept 24 hours (default session)",
    )
    parser.add_argument(
        "--websocket-only",
        action="store_true",
        help="no HTTP long-polling: for several Rasa workers or instances without sticky sessions",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = make_app(
        args.rasa_url, clinic_phone=args.clinic_phone, storage=args.storage, websocket_only=args.websocket_only
    )
    shown_host = "localhost" if args.host in ("127.0.0.1", "0.0.0.0") else args.host
    print(f"Demo clinic page: http://{shown_host}:{args.port}/  (bot: {args.rasa_url})", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
