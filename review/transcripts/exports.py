"""Exports: the queue as CSV, intent corrections as Rasa NLU training data, a transcript as PDF."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from .conversation import TriageRecord, Turn

# ---------------------------------------------------------------------------------------------
# CSV

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection, OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_rows(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """CSV text line by line, for a streaming response."""
    writer = csv.writer(_Echo())
    yield "\ufeff"  # byte order mark: spreadsheet programs then read the file as UTF-8
    yield writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


# ---------------------------------------------------------------------------------------------
# Rasa NLU training data

_YAML_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"}
# Rasa reads [text](entity), [text]{...} and [text][...] as entity annotations: a patient's
# square brackets must not turn into one.
_BRACKETS = str.maketrans({"[": "(", "]": ")"})


def training_example(text: str) -> str:
    """One line of plain text that Rasa's reader takes back exactly as a single example."""
    cleaned = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    return cleaned.translate(_BRACKETS)


def nlu_yaml(corrections: Iterable[tuple[str, str]]) -> str:
    """(text, corrected intent) pairs, oldest first, as Rasa 3.x NLU YAML.

    The same text corrected twice keeps only its latest intent, so one export never teaches
    the model two answers for one message.
    """
    intent_of: dict[str, str] = {}
    for text, intent in corrections:
        example = training_example(text)
        if example:
            intent_of.pop(example, None)
            intent_of[example] = intent
    by_intent: dict[str, list[str]] = {}
    for example, intent in intent_of.items():
        by_intent.setdefault(intent, []).append(example)
    lines = ['version: "3.1"', "nlu:"]
    for intent in sorted(by_intent):
        name = json.dumps(intent) if intent.lower() in _YAML_WORDS else intent
        lines.append(f"- intent: {name}")
        lines.append("  examples: |")
        lines.extend(f"    - {example}" for example in by_intent[intent])
    if not by_intent:
        lines[-1] = "nlu: []"
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# PDF (fpdf2)

def _font_paths() -> Optional[tuple[Path, Path]]:
    """DejaVu Sans, which covers far more than Latin-1; matplotlib (a Rasa dependency) ships it."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.origin:
        return None
    folder = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
    regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
    return (regular, bold) if regular.exists() and bold.exists() else None


def _shown(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "not recorded"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def transcript_pdf(
    conversation_id: str,
    record: TriageRecord,
    turns: list[Turn],
    booking_statuses: list[str],
    generated_by: str,
    generated_at: datetime,
    local_time,
) -> bytes:
    """The transcript for the patient's record: the triage record, then each message with times.

    `local_time` turns an aware datetime into the clinic's local time for printing.
    """
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(f"Chat transcript {conversation_id}")
    pdf.set_creator("Clinic transcript review")
    pdf.set_auto_page_break(auto=True, margin=15)
    fonts = _font_paths()
    if fonts:
        pdf.add_font("DejaVu", "", str(fonts[0]))
        pdf.add_font("DejaVu", "B", str(fonts[1]))
        family = "DejaVu"

        def text_of(value: str) -> str:
            return value
    else:
        family = "Helvetica"

        def text_of(value: str) -> str:
            return value.encode("latin-1", "replace").decode("latin-1")

    def when(moment: Optional[datetime]) -> str:
        return local_time(moment).strftime("%d %b %Y %H:%M:%S %Z") if moment else ""

    def line(text: str, size: int = 10, bold: bool = False, height: float = 5.5) -> None:
        pdf.set_font(family, "B" if bold else "", size)
        pdf.multi_cell(0, height, text_of(text), new_x="LMARGIN", new_y="NEXT", align="L", wrapmode="CHAR")

    pdf.add_page()
    line("Chat transcript", size=16, bold=True, height=9)
    line(f"Conversation: {conversation_id}")
    started = next((t.at for t in turns if t.at), None)
    ended = next((t.at for t in reversed(turns) if t.at), None)
    line(f"From {when(started)} to {when(ended)}")
    line(f"Exported by {generated_by} on {when(generated_at)}")
    pdf.ln(3)
    line("Triage record", size=13, bold=True, height=7)
    for label, value in (
        ("Triage level", record.level),
        ("Most urgent level reached", record.highest_level),
        ("Red flags", record.red_flags),
        ("Pain triggers", record.values.get("pain_triggers")),
        ("Pain location", record.values.get("pain_location")),
        ("Onset", record.values.get("onset")),
        ("Duration (weeks)", record.values.get("duration_weeks")),
        ("Booking or call-back", booking_statuses),
    ):
        line(f"{label}: {_shown(value)}")
    pdf.ln(3)
    line("Messages", size=13, bold=True, height=7)
    for turn in turns:
        if turn.user is not None:
            pdf.ln(1.5)
            line(f"Patient, {when(turn.user.at)}", bold=True)
            line(turn.user.text or "(no text)")
            for finding in turn.user.findings:
                status = "counted" if finding.asserted else "not counted"
                line(f"Red-flag check: {finding.code} ({finding.label}) - {status}", size=9)
        for reply in turn.replies:
            pdf.ln(1.5)
            line(f"Assistant, {when(reply.at)}", bold=True)
            line(reply.text or "(no text)")
            if reply.buttons:
                line("Options offered: " + "; ".join(reply.buttons), size=9)
    return bytes(pdf.output())
