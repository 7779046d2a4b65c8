"""scripts/serve_web.py: the page learns the bot's URL from config.js; only web files are served.

Synchronous on purpose: these run beside the Playwright tests (see conftest.py's `browser`).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from widget_support import load_serve_web


def get(url: str) -> tuple[int, dict, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, dict(reply.headers), reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), ""


def test_config_js_tells_the_widget_where_the_bot_is(demo_site):
    status, headers, body = get(demo_site.web_url + "/config.js")
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    prefix = "window.UpwellChatConfig = "
    assert body.startswith(prefix)
    config = json.loads(body[len(prefix):].rstrip().rstrip(";"))
    assert config["socketUrl"] == demo_site.bot_url
    assert config["initPayload"] == "/greet"
    assert config["storage"] == "session"


def test_page_loads_the_widget_with_one_script_tag_under_a_strict_policy(demo_site):
    status, headers, page = get(demo_site.web_url + "/")
    assert status == 200
    assert '<script src="/widget/upwell-chat.js" defer></script>' in page
    assert "<script>" not in page  # no inline script: the policy forbids it
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert f"connect-src 'self' {demo_site.bot_url} {demo_site.bot_url.replace('http', 'ws')}" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_websocket_only_is_passed_to_the_widget():
    serve_web = load_serve_web()
    assert "transports" not in serve_web.widget_config("http://bot", "", "session")
    config = serve_web.widget_config("http://bot", "", "session", websocket_only=True)
    assert config["transports"] == ["websocket"]
    assert serve_web.parse_args(["--websocket-only"]).websocket_only


def test_a_bot_on_https_is_reached_over_secure_websockets():
    policy = load_serve_web().content_security_policy("https://bot.upwell.example/")
    assert "connect-src 'self' https://bot.upwell.example wss://bot.upwell.example" in policy


@pytest.mark.parametrize("path", ["/widget/upwell-chat.js", "/widget/upwell-chat.css",
                                  "/widget/vendor/socket.io.min.js", "/demo.css"])
def test_widget_files_are_served(demo_site, path):
    assert get(demo_site.web_url + path)[0] == 200


@pytest.mark.parametrize("path", ["/package.json", "/widget/../package.json", "/scripts/vendor.js",
                                  "/node_modules/socket.io-client/package.json", "/widget/"])
def test_nothing_else_in_web_is_served(demo_site, path):
    assert get(demo_site.web_url + path)[0] in (403, 404)
