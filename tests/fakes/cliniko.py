"""A fake Cliniko API on 127.0.0.1 (random port), for contract tests at the network boundary.

Implements the documented endpoints and payload shapes the booking backend uses:
patients (list with `q[]` filters and paging, create), available_times (7-day window, not in the
past, paged), individual_appointments (list with filters, create -> 201). It checks HTTP Basic
auth (API key as user name, empty password), `Accept: application/json` and a
`User-Agent: Vendor (email)`, and can be told to fail: 401, 422, 429 with `X-RateLimit-Reset`,
5xx, slow answers (for timeouts), or to hold an appointment's response after storing it (to
crash a client between Cliniko's yes and its own commit).

Run it with the `fake_cliniko` fixture, or `FakeCliniko().start()` / `.stop()`.
"""
from __future__ import annotations

import asyncio
import base64
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Optional
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

API_KEY = "MS0xMjM0NTY3ODktZmFrZWtleQ-au2"
USER_AGENT = "Upwell Health tests (dev@upwell.example)"
BUSINESS_ID, PRACTITIONER_ID, APPOINTMENT_TYPE_ID = "101", "202", "303"
_USER_AGENT = re.compile(r"^\S.*\s\([^()\s]+@[^()\s]+\)$")


@dataclass
class Fault:
    method: str
    path_pattern: str
    status: int
    times: int = 1
    headers: dict = field(default_factory=dict)
    delay_seconds: float = 0.0


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _z(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeCliniko:
    def __init__(self, api_key: str = API_KEY, zone: str = "Australia/Melbourne") -> None:
        self.api_key = api_key
        self.zone = ZoneInfo(zone)
        self.patients: dict[int, dict] = {}
        self.appointments: dict[int, dict] = {}
        self.available: list[datetime] = []
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []  # (method, path with query)
        self.page_size_cap: Optional[int] = None  # smaller pages to exercise links.next
        self.hold_appointment_response = False
        self.appointment_stored = threading.Event()
        self._next_id = 1000
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._release: Optional[asyncio.Event] = None
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None
        self.base_url = ""

    # --- test controls ---

    def fail(self, method: str, path_pattern: str, status: int, times: int = 1,
             headers: Optional[dict] = None, delay_seconds: float = 0.0) -> None:
        with self._lock:
            self.faults.append(Fault(method, path_pattern, status, times, headers or {}, delay_seconds))

    def slow(self, method: str, path_pattern: str, seconds: float, times: int = 1) -> None:
        self.fail(method, path_pattern, 0, times, delay_seconds=seconds)

    def add_available(self, *starts: datetime) -> None:
        with self._lock:
            self.available.extend(s.astimezone(timezone.utc) for s in starts)

    def add_patient(self, first_name: str, last_name: str, email: str = "", phones: tuple = ()) -> dict:
        return self._store_patient({"first_name": first_name, "last_name": last_name, "email": email,
                                    "patient_phone_numbers": [{"phone_type": "Mobile", "number": n} for n in phones]})

    def release_held(self) -> None:
        if self._loop and self._release:
            self._loop.call_soon_threadsafe(self._release.set)

    def count(self, method: str, path_prefix: str) -> int:
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and p.startswith(path_prefix))

    # --- life cycle ---

    def start(self) -> "FakeCliniko":
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._release = asyncio.Event()
            app = web.Application(middlewares=[self._checks])
            app.add_routes([
                web.get("/v1/patients", self._list_patients),
                web.post("/v1/patients", self._create_patient),
                web.get("/v1/patients/{id}", self._get_patient),
                web.get("/v1/businesses/{b}/practitioners/{p}/appointment_types/{t}/available_times",
                        self._available_times),
                web.get("/v1/individual_appointments", self._list_appointments),
                web.post("/v1/individual_appointments", self._create_appointment),
            ])
            self._runner = web.AppRunner(app)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.base_url = f"http://127.0.0.1:{port}/v1"
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-cliniko", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Cliniko did not start")
        return self

    def stop(self) -> None:
        if self._loop:
            self.release_held()
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    # --- HTTP ---

    @web.middleware
    async def _checks(self, request: web.Request, handler: Any) -> web.StreamResponse:
        with self._lock:
            self.requests.append((request.method, request.path_qs[len("/v1"):]))
        fault = self._take_fault(request)
        if fault is not None and fault.status:
            await asyncio.sleep(fault.delay_seconds)
            return web.json_response({"message": "injected"}, status=fault.status, headers=fault.headers)
        response = await self._checked(request, handler)
        if fault is not None:
            # A slow answer: the work is done (as on a real server), the reply comes late.
            await asyncio.sleep(fault.delay_seconds)
        return response

    async def _checked(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self._authorised(request.headers.get("Authorization", "")):
            return web.json_response({"message": "Unauthorized"}, status=401)
        if not _USER_AGENT.match(request.headers.get("User-Agent", "")):
            return web.json_response({"message": "User-Agent must be 'Vendor (email)'"}, status=403)
        if request.headers.get("Accept") != "application/json":
            return web.json_response({"message": "Only JSON"}, status=406)
        return await handler(request)

    def _take_fault(self, request: web.Request) -> Optional[Fault]:
        with self._lock:
            for fault in self.faults:
                if fault.method == request.method and re.search(fault.path_pattern, request.path) and fault.times:
                    fault.times -= 1
                    return fault
        return None

    def _authorised(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.api_key and password == ""

    def _page(self, request: web.Request, key: str, items: list, relative_links: bool = False) -> web.Response:
        per_page = min(int(request.query.get("per_page", 50)), 100)
        if self.page_size_cap:
            per_page = min(per_page, self.page_size_cap)
        page = int(request.query.get("page", 1))
        chunk = items[(page - 1) * per_page: page * per_page]

        def link(number: int) -> str:
            query = [(k, v) for k, v in request.query.items() if k != "page"] + [("page", str(number))]
            path_qs = f"{request.path}?{urlencode(query)}"
            # Cliniko's available_times example shows a path-only link: follow both kinds.
            return path_qs[len("/v1"):] if relative_links else self.base_url[:-len("/v1")] + path_qs

        links = {"self": link(page)}
        if page * per_page < len(items):
            links["next"] = link(page + 1)
        if page > 1:
            links["previous"] = link(page - 1)
        return web.json_response({key: chunk, "total_entries": len(items), "links": links})

    def _filters(self, request: web.Request) -> list[tuple[str, str, str]]:
        parsed = []
        for raw in request.query.getall("q[]", []):
            match = re.match(r"^(\w+):(>=|<=|!=|~~|=|~|>|<)(.*)$", raw)
            if not match:
                raise web.HTTPBadRequest(text='{"message":"bad filter"}', content_type="application/json")
            parsed.append(match.groups())  # type: ignore[arg-type]
        return parsed

    def _store_patient(self, body: dict) -> dict:
        with self._lock:
            self._next_id += 1
            patient_id = self._next_id
            now = _z(datetime.now(timezone.utc))
            patient = {
                "id": patient_id, "created_at": now, "updated_at": now, "archived_at": None, "deleted_at": None,
                "first_name": body.get("first_name", ""), "last_name": body.get("last_name", ""),
                "email": body.get("email") or "", "notes": "", "old_reference_id": "",
                "patient_phone_numbers": body.get("patient_phone_numbers") or [],
                "links": {"self": f"{self.base_url}/patients/{patient_id}"},
            }
            self.patients[patient_id] = patient
            return patient

    async def _list_patients(self, request: web.Request) -> web.Response:
        items = sorted(self.patients.values(), key=lambda p: p["id"])
        for name, op, value in self._filters(request):
            if name not in ("first_name", "last_name", "email", "old_reference_id") or op not in ("=", "~"):
                return web.json_response({"message": f"cannot filter on {name}"}, status=400)
            if op == "=":
                items = [p for p in items if str(p.get(name, "")).lower() == value.lower()]
            else:
                items = [p for p in items if value.lower() in str(p.get(name, "")).lower()]
        return self._page(request, "patients", items)

    async def _create_patient(self, request: web.Request) -> web.Response:
        body = await request.json()
        errors = {k: ["can't be blank"] for k in ("first_name", "last_name") if not (body.get(k) or "").strip()}
        if errors:
            return web.json_response({"message": "Validation failed", "errors": errors}, status=422)
        patient = self._store_patient(body)
        return web.json_response(patient, status=201, headers={"Location": patient["links"]["self"]})

    async def _get_patient(self, request: web.Request) -> web.Response:
        patient = self.patients.get(int(request.match_info["id"]))
        if patient is None:
            return web.json_response({"message": "Not found"}, status=404)
        return web.json_response(patient)

    async def _available_times(self, request: web.Request) -> web.Response:
        ids = (request.match_info["b"], request.match_info["p"], request.match_info["t"])
        if ids != (BUSINESS_ID, PRACTITIONER_ID, APPOINTMENT_TYPE_ID):
            return web.json_response({"message": "Not found"}, status=404)
        try:
            start = date.fromisoformat(request.query["from"])
            end = date.fromisoformat(request.query["to"])
        except (KeyError, ValueError):
            return web.json_response({"message": "from and to are required dates"}, status=400)
        if (end - start).days > 7 or end < start:
            return web.json_response({"message": "from and to cannot be more than 7 days apart"}, status=422)
        if start < datetime.now(self.zone).date():
            return web.json_response({"message": "from cannot be in the past"}, status=422)
        first = datetime.combine(start, datetime.min.time(), tzinfo=self.zone)
        last = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=self.zone)
        booked = {a["starts_at"] for a in self.appointments.values() if not a["cancelled_at"]}
        times = sorted(t for t in self.available if first <= t < last and _z(t) not in booked)
        items = [{"appointment_start": _z(t)} for t in times]
        return self._page(request, "available_times", items, relative_links=True)

    async def _list_appointments(self, request: web.Request) -> web.Response:
        items = sorted(self.appointments.values(), key=lambda a: a["id"])
        for name, op, value in self._filters(request):
            if op != "=" or name not in ("patient_id", "starts_at", "practitioner_id", "business_id"):
                return web.json_response({"message": f"cannot filter on {name}"}, status=400)
            if name == "starts_at":
                items = [a for a in items if _utc(a["starts_at"]) == _utc(value)]
            else:
                items = [a for a in items if str(a[f"_{name}"]) == value]
        return self._page(request, "individual_appointments", [self._public(a) for a in items])

    @staticmethod
    def _public(appointment: dict) -> dict:
        return {k: v for k, v in appointment.items() if not k.startswith("_")}

    async def _create_appointment(self, request: web.Request) -> web.Response:
        body = await request.json()
        required = ("starts_at", "patient_id", "practitioner_id", "appointment_type_id", "business_id")
        errors = {k: ["can't be blank"] for k in required if not body.get(k)}
        if not errors and int(body["patient_id"]) not in self.patients:
            errors["patient"] = ["must exist"]
        if not errors and (body["business_id"], body["practitioner_id"], body["appointment_type_id"]) != (
                BUSINESS_ID, PRACTITIONER_ID, APPOINTMENT_TYPE_ID):
            errors["practitioner"] = ["does not offer this appointment type here"]
        if errors:
            return web.json_response({"message": "Validation failed", "errors": errors}, status=422)
        starts = _utc(body["starts_at"])
        with self._lock:
            self._next_id += 1
            appointment_id = self._next_id
            base = self.base_url
            appointment = {
                "id": appointment_id, "created_at": _z(datetime.now(timezone.utc)), "cancelled_at": None,
                "deleted_at": None, "notes": body.get("notes"), "patient_name": "",
                "starts_at": _z(starts), "ends_at": _z(starts + timedelta(minutes=45)),
                "appointment_type": {"links": {"self": f"{base}/appointment_types/{body['appointment_type_id']}"}},
                "business": {"links": {"self": f"{base}/businesses/{body['business_id']}"}},
                "practitioner": {"links": {"self": f"{base}/practitioners/{body['practitioner_id']}"}},
                "patient": {"links": {"self": f"{base}/patients/{body['patient_id']}"}},
                "links": {"self": f"{base}/individual_appointments/{appointment_id}"},
                "_patient_id": str(body["patient_id"]), "_practitioner_id": str(body["practitioner_id"]),
                "_business_id": str(body["business_id"]),
            }
            self.appointments[appointment_id] = appointment
        self.appointment_stored.set()
        if self.hold_appointment_response and self._release is not None:
            await self._release.wait()
        return web.json_response(self._public(appointment), status=201,
                                 headers={"Location": appointment["links"]["self"]})


def cliniko_env(fake: FakeCliniko, **extra: str) -> dict[str, str]:
    """Settings that point the Cliniko backend at this fake."""
    env = {
        "BOOKING_BACKEND": "cliniko", "CLINIKO_API_KEY": fake.api_key, "CLINIKO_BASE_URL": fake.base_url,
        "CLINIKO_USER_AGENT": USER_AGENT, "CLINIKO_BUSINESS_ID": BUSINESS_ID,
        "CLINIKO_PRACTITIONER_ID": PRACTITIONER_ID, "CLINIKO_APPOINTMENT_TYPE_ID": APPOINTMENT_TYPE_ID,
    }
    env.update(extra)
    return env


def upcoming_starts(zone: str = "Australia/Melbourne", days: int = 3, hours: tuple = (9, 11, 14)) -> list[datetime]:
    """Appointment starts on the coming days at the given local hours (always in the future)."""
    tz = ZoneInfo(zone)
    today = datetime.now(tz).date()
    return [datetime.combine(today + timedelta(days=d), datetime.min.time(), tzinfo=tz).replace(hour=h)
            for d in range(1, days + 1) for h in hours]


@pytest.fixture
def fake_cliniko():
    fake = FakeCliniko().start()
    try:
        yield fake
    finally:
        fake.stop()


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
