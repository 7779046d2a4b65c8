"""Exports: the queue as CSV, intent corrections as Rasa NLU YAML, a transcript as PDF."""
from __future__ import annotations

import csv
import io
import re

import pytest
from review_fixtures import Script, build_tracker_db

from transcripts.exports import nlu_yaml
from transcripts.models import AuditEvent, IntentCorrection


def csv_table(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_csv_export_follows_the_filters_and_is_audited(clinic, admin, client_for):
    response = client_for(admin).get("/export/conversations.csv", {"booking": "any"})
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_table(response)
    assert [r["conversation_id"] for r in rows] == ["conv-infection", "conv-stairs"]
    infection = rows[0]
    assert infection["triage_level"] == "emergency" and infection["red_flags"] == "infection"
    assert infection["booking_or_callback"] == "booking" and infection["booking_status"] == "failed"
    exported = set(AuditEvent.objects.filter(action="export_csv").values_list("conversation_id", flat=True))
    assert exported == {"conv-infection", "conv-stairs"}


def test_csv_cells_cannot_run_as_formulas(db, stores, admin, client_for):
    tracker_path, _ = stores
    build_tracker_db(tracker_path, [
        Script("=HYPERLINK(\"http://evil\")", start=1_780_000_000).user("=1+2", "knee_pain_general").done(),
        Script("+61400000000", start=1_780_000_100).user("@SUM(A1)", "knee_pain_general").done(),
        Script("plain", start=1_780_000_200).user("-2+3 knee", "knee_pain_general").done(),
    ])
    client = client_for(admin)
    client.get("/")  # index the store
    rows = csv_table(client.get("/export/conversations.csv"))
    by_message = {r["first_message"]: r for r in rows}
    assert set(by_message) == {"'=1+2", "'@SUM(A1)", "'-2+3 knee"}
    assert by_message["'=1+2"]["conversation_id"] == "'=HYPERLINK(\"http://evil\")"
    assert by_message["'@SUM(A1)"]["conversation_id"] == "'+61400000000"


def test_nlu_export_is_valid_rasa_training_data(clinic, admin, client_for, tmp_path):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    client = client_for(admin)
    html = client.get("/conversation/", {"id": "conv-fallback"}).content.decode()
    event_ids = [int(i) for i in re.findall(r'id="message-(\d+)"', html)]
    client.post("/conversation/correct/", {"conversation_id": "conv-fallback", "event_id": event_ids[0],
                                           "intent": "out_of_scope"})
    client.post("/conversation/correct/", {"conversation_id": "conv-fallback", "event_id": event_ids[1],
                                           "intent": "pain_when_running"})
    html = client.get("/conversation/", {"id": "conv-xss"}).content.decode()
    xss_event = int(re.search(r'id="message-(\d+)"', html).group(1))
    client.post("/conversation/correct/", {"conversation_id": "conv-xss", "event_id": xss_event,
                                           "intent": "knee_pain_general"})
    response = client.post("/corrections/export/", {"only_new": "1"})
    body = response.content.decode()
    assert body.startswith('version: "3.1"\nnlu:\n')
    data = RasaYAMLReader().reads(body)
    examples = {m.get("text"): m.get("intent") for m in data.intent_examples}
    assert examples["asdf qwer zxcv"] == "out_of_scope"
    assert examples["knee sore after runs"] == "pain_when_running"
    assert examples["<script>alert('x')</script> my knee <img src=x onerror=alert(1)>"] == "knee_pain_general"
    assert not data.entity_examples
    # Exported once: "only new" is empty the second time, and the audit log has it.
    assert not IntentCorrection.objects.filter(exported_at__isnull=True).exists()
    again = RasaYAMLReader().reads(client.post("/corrections/export/", {"only_new": "1"}).content.decode())
    assert again.intent_examples == []
    assert set(AuditEvent.objects.filter(action="export_nlu").values_list("conversation_id", flat=True)) == {
        "conv-fallback", "conv-xss"}


@pytest.mark.parametrize("text, expected", [
    ("my [knee](body_part) hurts", "my (knee)(body_part) hurts"),   # not read as an entity
    ("line one\nline two\ttab", "line one line two tab"),
    ("  spaced   out  ", "spaced out"),
    ("# not a comment: really", "# not a comment: really"),
    ("- starts with a dash", "- starts with a dash"),
    ("'quoted' \"double\" | pipe > gt", "'quoted' \"double\" | pipe > gt"),
])
def test_nlu_examples_read_back_exactly(text, expected):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    data = RasaYAMLReader().reads(nlu_yaml([(text, "knee_pain_general"), ("yes", "affirm"), ("on", "yes")]))
    examples = {m.get("text"): m.get("intent") for m in data.intent_examples}
    assert examples == {expected: "knee_pain_general", "yes": "affirm", "on": "yes"}
    assert not data.entity_examples


def test_pdf_export_holds_the_transcript(clinic, clinician, client_for):
    response = client_for(clinician).get("/conversation/pdf/", {"id": "conv-infection"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="transcript-conv-infection.pdf"'
    body = response.content
    assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
    assert AuditEvent.objects.filter(username="casey", action="export_pdf", conversation_id="conv-infection").exists()
    pypdf = pytest.importorskip("pypdf")  # test-only: reads the text back
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(body)).pages)
    flat = " ".join(text.split())
    for expected in ("conv-infection", "Triage level: emergency", "Red flags: infection",
                     "My knee is hot, red and swollen and I have a fever",
                     "Please go to an emergency department now", "Exported by casey"):
        assert expected in flat, expected


def test_pdf_handles_any_text(db, stores, clinician, client_for):
    pypdf = pytest.importorskip("pypdf")
    tracker_path, _ = stores
    long_word = "x" * 400
    build_tracker_db(tracker_path, [
        Script("odd", start=1_780_000_000).user(f"Ça fait mal — knee 🦵 {long_word} <b>", "knee_pain_general").done()
    ])
    body = client_for(clinician).get("/conversation/pdf/", {"id": "odd"}).content
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(body)).pages)
    assert "Ça fait mal — knee" in text and "<b>" in text
