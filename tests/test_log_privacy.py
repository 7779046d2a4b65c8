"""The Rasa server's logs never carry the triage record or what a patient wrote, even when Rasa
logs an exception with its local variables (components/log_privacy.py)."""
from __future__ import annotations

import io
import logging
import sys

import pytest
import structlog
from rasa.core.nlg import interpolator
from rasa.core.nlg.interpolator import interpolate
from rasa.utils.log_utils import configure_structlog

from components import log_privacy

SLOTS = {"pain_triggers": ["stairs", "sitting"], "triage_summary": "pain behind the kneecap for 6 weeks",
         "red_flags": ["infection"]}


@pytest.fixture
def rasa_log(monkeypatch):
    """Rasa's own logging set-up (JSON lines, as in a container), captured."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = []
    configure_structlog(logging.INFO)  # what `rasa run` does at start-up
    # structlog caches a module's logger on first use; each test starts from a fresh one.
    monkeypatch.setattr(interpolator, "structlogger", structlog.get_logger())
    yield stream
    root.handlers = saved
    structlog.reset_defaults()


def test_a_button_with_entities_logs_no_slot_values(rasa_log):
    log_privacy.install()
    buttons = [{"title": "Behind the kneecap", "payload": '/inform{"pain_location":"behind_kneecap"}'}]
    assert interpolate(buttons, SLOTS) == buttons, "the payload is unchanged"
    written = rasa_log.getvalue()
    assert "stairs" not in written and "kneecap for 6 weeks" not in written and "infection" not in written


def test_an_exception_is_logged_by_type_and_place_without_locals_or_message(rasa_log):
    log_privacy.install()

    def handle(patient_text: str) -> None:
        raise ValueError(f"could not read {patient_text}")

    try:
        handle("my knee swells up and I have a fever")
    except ValueError:
        structlog.get_logger().exception("processor.handle.failed")
    written = rasa_log.getvalue()
    assert "processor.handle.failed" in written and "ValueError" in written
    assert "fever" not in written and "swells" not in written


def test_without_it_rasa_would_log_the_slots(rasa_log):
    # The reason for the module: Rasa 3.6 as shipped writes every local into the log.
    interpolate([{"title": "x", "payload": '/inform{"pain_location":"behind_kneecap"}'}], SLOTS)
    assert "stairs" in rasa_log.getvalue()


def test_installing_twice_adds_one_processor(rasa_log):
    log_privacy.install()
    log_privacy.install()
    assert structlog.get_config()["processors"].count(log_privacy.scrub_exceptions) == 1
