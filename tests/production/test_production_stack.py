"""The production shape working as a whole: several workers sharing conversations through Redis,
every acknowledged message in PostgreSQL, the HTTP API behind its token, and the staff review
tool reading the same PostgreSQL."""
from __future__ import annotations

import http.cookiejar
import re
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

import dev
import load_test
from faults.production_stack import ROOT, Conversation, cpu_seconds

pytestmark = pytest.mark.production

REVIEW_PASSWORD = "knee-review-Production-7431"


def test_concurrent_conversations_are_spread_over_both_workers_and_all_stored_in_order_once(production_stack):
    workers = production_stack.rasa_worker_pids()
    assert len(workers) == 2, "SANIC_WORKERS=2 with the Redis lock store must give two worker processes"
    before = {pid: cpu_seconds(pid) for pid in workers}

    report = load_test.run_load(production_stack.rasa_url, conversations=40, turns=5,
                                db_url=production_stack.db_url, timeout=180)

    assert report.errors == {}, report.summary()
    assert report.check["ok"], report.summary()
    assert report.check["acknowledged"] == 200
    assert report.empty_replies == 0, "every message got an answer"
    used = {pid: cpu_seconds(pid) - before[pid] for pid in workers}
    total = sum(used.values())
    assert all(seconds > 0.1 * total for seconds in used.values()), f"one worker did (almost) nothing: {used}"


def test_the_rasa_http_api_answers_only_with_its_token(production_stack):
    status, _ = production_stack.post("/status", b"", method="GET", content_type="")
    assert status == 401
    status, _ = production_stack.post(f"/status?token={production_stack.token}", b"", method="GET", content_type="")
    assert status == 200


def _review_session(base: str, username: str, password: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login/", timeout=60).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password,
                                   "csrfmiddlewaretoken": token, "next": "/"}).encode()
    opener.open(urllib.request.Request(f"{base}/login/", data=form), timeout=60).read()
    return opener


def test_staff_review_the_bots_conversations_from_the_same_postgresql(production_stack):
    patient = Conversation(production_stack, "review")
    assert patient.say("my knee hurts when I go down stairs")[0] == 200
    assert patient.say("I have crushing chest pain and can't breathe")[0] == 200

    env = dev.env(**production_stack.env, REVIEW_STAFF_PASSWORD=REVIEW_PASSWORD)
    subprocess.run([sys.executable, "review/manage.py", "create_staff", "--username", "prod-clinician",
                    "--role", "clinician"], cwd=ROOT, env=env, check=True, timeout=120,
                   stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{production_stack.review_port}"
    staff = _review_session(base, "prod-clinician", REVIEW_PASSWORD)

    queue = staff.open(f"{base}/", timeout=120).read().decode()
    assert patient.sender in queue, "the urgent conversation is in the staff queue"
    transcript = staff.open(f"{base}/conversation/?id={patient.sender}", timeout=120).read().decode()
    assert "go down stairs" in transcript and "chest pain" in transcript


async def _widget_greeting(base_url: str) -> dict:
    """One web chat session over the websocket transport, spoken as the widget's socket.io client
    speaks it (Engine.IO 4 / Socket.IO 5 packets; python-socketio's own websocket client needs a
    newer aiohttp than the lock's): the bot's first reply to "hi"."""
    import asyncio
    import json

    import websockets

    url = base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(url, origin="http://localhost:8080", open_timeout=60) as socket:

        async def event(name: str):
            while True:
                packet = await asyncio.wait_for(socket.recv(), 120)
                if packet == "2":  # Engine.IO ping
                    await socket.send("3")
                elif packet.startswith("42"):
                    event_name, *args = json.loads(packet[2:])
                    if event_name == name:
                        return args[0] if args else None

        assert (await asyncio.wait_for(socket.recv(), 60)).startswith("0")  # Engine.IO open
        await socket.send("40")  # Socket.IO connect to the default namespace
        assert (await asyncio.wait_for(socket.recv(), 60)).startswith("40")
        await socket.send("42" + json.dumps(["session_request", {"session_id": None}]))
        confirmed = await event("session_confirm")
        session_id = confirmed if isinstance(confirmed, str) else confirmed["session_id"]
        await socket.send("42" + json.dumps(["user_uttered", {"message": "hi", "session_id": session_id}]))
        return await event("bot_uttered")


async def test_the_web_chat_works_with_several_workers_over_websockets(production_stack):
    # A websocket is one connection, so it stays with one worker for its whole life; HTTP
    # long-polling would need sticky sessions (docs/production.md).
    for _ in range(6):
        reply = await _widget_greeting(production_stack.rasa_url)
        assert "chatbot" in (reply.get("text") or "")
