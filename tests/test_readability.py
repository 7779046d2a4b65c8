"""Every text a patient reads is at or below school grade 8 (Flesch-Kincaid, textstat 0.7.4)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# The repo has no pytest `pythonpath` setting yet: make `bot` importable from any working folder.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bot.readability import (  # noqa: E402
    MAX_GRADE,
    SHORT_TEXT_WORDS,
    grade,
    is_readable,
    plain_text,
    word_count,
)

DOMAIN_FILE = REPO_ROOT / "domain.yml"


def patient_texts(responses: dict) -> list[tuple[str, str]]:
    """(where, text) for every text variation and button title of every response."""
    found = []
    for name, variations in responses.items():
        for number, variation in enumerate(variations, start=1):
            if variation.get("text"):
                found.append((f"{name} variation {number} text", variation["text"]))
            for button in variation.get("buttons") or []:
                found.append((f"{name} variation {number} button", button["title"]))
    return found


def unreadable(responses: dict) -> list[str]:
    return [
        f"{where}: grade {grade(text):.1f} > {MAX_GRADE}: {plain_text(text)!r}"
        for where, text in patient_texts(responses)
        if not is_readable(text)
    ]


def load_responses(path: Path) -> dict:
    # Rasa's own loader, so a file Rasa would reject fails here too.
    from rasa.shared.core.domain import Domain

    return Domain.load(str(path)).responses


def test_every_domain_response_is_at_or_below_grade_8():
    responses = load_responses(DOMAIN_FILE)
    assert patient_texts(responses), f"no response texts found in {DOMAIN_FILE}"
    problems = unreadable(responses)
    assert not problems, "Above grade 8 (rewrite in shorter words and sentences):\n" + "\n".join(problems)


def test_the_check_names_the_offending_response_and_its_grade():
    jargon = (
        "Patellofemoral pain syndrome is characterised by retropatellar or peripatellar pain "
        "aggravated by activities that increase patellofemoral joint compressive loading."
    )
    responses = {
        "utter_plain": [{"text": "Your knee may hurt on the stairs. A physio can check it."}],
        "utter_jargon": [{"text": "Hello there."}, {"text": jargon}],
    }
    problems = unreadable(responses)
    assert len(problems) == 1
    assert problems[0].startswith(f"utter_jargon variation 2 text: grade {grade(jargon):.1f} > 8")


# --- grade and the short-text rule ---------------------------------------------------------

def test_max_grade_is_school_grade_8():
    assert MAX_GRADE == 8


def test_long_jargon_sentence_fails():
    text = (
        "Patellofemoral pain syndrome is characterised by retropatellar or peripatellar pain "
        "aggravated by activities that increase patellofemoral joint compressive loading."
    )
    assert grade(text) > MAX_GRADE
    assert not is_readable(text)


def test_plain_short_sentences_pass():
    text = "Stairs can make the knee ache. Rest alone does not fix it. A physio can help."
    assert grade(text) <= MAX_GRADE
    assert is_readable(text)


def test_texts_under_five_words_count_as_readable_whatever_the_formula_says():
    # One three-syllable word scores grade 20 on its own: the formula needs more words to mean anything.
    assert SHORT_TEXT_WORDS == 5
    assert grade("Emergency") > MAX_GRADE
    assert is_readable("Emergency")
    assert is_readable("Booking request confirmed, thanks.")  # four words


def test_short_text_rule_stops_at_five_words():
    jargon = "Patellofemoral chondromalacia necessitates arthroscopic debridement."
    assert word_count(jargon) == SHORT_TEXT_WORDS
    assert grade(jargon) > MAX_GRADE
    assert not is_readable(jargon)


def test_markup_does_not_count_as_words():
    assert word_count("**Book** a [running check](https://upwell.example/book) {clinic_phone}") == 4


def test_empty_text_has_grade_zero():
    assert grade("") == 0.0
    assert grade("{clinic_phone}") == 0.0
    assert is_readable("")


# --- plain_text ----------------------------------------------------------------------------

def test_markdown_link_keeps_its_words_and_drops_the_address():
    assert plain_text("You can [book online](https://upwell.example/book) today.") == (
        "You can book online today."
    )


def test_bare_link_is_dropped_but_the_sentence_end_is_kept():
    assert plain_text("Read more at https://upwell.example/knee. It is free.") == (
        "Read more at. It is free."
    )


def test_emphasis_and_code_marks_are_dropped():
    assert plain_text("**Stop** running _now_ and `rest` ~~today~~.") == "Stop running now and rest today."


def test_emoji_are_dropped():
    assert plain_text("Great work \U0001F3C3\u200d\u2640\ufe0f keep going \U0001F44D") == (
        "Great work keep going."
    )


def test_phone_numbers_are_dropped():
    text = "Call 000, Lifeline on 13 11 14, healthdirect on 1800 022 222 or us on (03) 9123 4567."
    assert plain_text(text) == "Call, Lifeline on, healthdirect on or us on."


def test_numbers_that_are_not_phone_numbers_stay():
    text = "Go from 160 to 168 steps, 5 to 10% more, for 8 to 12 weeks or 10 000 steps."
    assert plain_text(text) == text


def test_slot_placeholders_are_dropped():
    assert plain_text("Thanks {first_name}, we will call you on {clinic_phone}.") == (
        "Thanks, we will call you on."
    )


def test_phone_numbers_and_markup_leave_the_grade_unchanged():
    bare = "Call now if you have chest pain."
    assert grade("Call **000** now if you have chest pain \U0001F691.") == grade(bare)


def test_each_list_item_and_heading_reads_as_its_own_sentence():
    text = "# What helps\n- strength work for the hip\n- quicker steps\n1. a slow build up"
    assert plain_text(text) == (
        "What helps. strength work for the hip. quicker steps. a slow build up."
    )
    # Read as one run-on sentence the list would score far higher.
    assert grade(text) < grade("What helps strength work for the hip quicker steps a slow build up")


def test_grade_works_with_no_network():
    # textstat must count syllables from its bundled dictionaries, never a download.
    script = (
        "import socket, sys\n"
        "def no_network(*args, **kwargs):\n"
        "    raise OSError('network used')\n"
        "socket.socket.connect = socket.socket.connect_ex = no_network\n"
        "socket.getaddrinfo = socket.create_connection = no_network\n"
        f"sys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from bot.readability import grade\n"
        "print(grade('A physio can check your knee and the way you run.'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) == grade("A physio can check your knee and the way you run.")


def _python_texts() -> list[tuple[str, str]]:
    """Patient-facing sentences written in Python: every literal `text=` an action sends, and every
    message constant of the channels (too long, busy, no reply...)."""
    import ast

    found = []
    for path in sorted((REPO_ROOT / "actions").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "utter_message":
                for keyword in node.keywords:
                    if keyword.arg == "text":
                        pieces = [n.value for n in ast.walk(keyword.value)
                                  if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                        if pieces:
                            found.append((f"{path.name}:{node.lineno}", " ".join(pieces)))
    for path in (REPO_ROOT / "channels" / "settings.py", REPO_ROOT / "channels" / "rest.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id.isupper():
                pieces = [n.value for n in ast.walk(node.value) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                text = " ".join(pieces)
                if word_count(text) >= SHORT_TEXT_WORDS and " " in text and not text.startswith("http"):
                    found.append((f"{path.name}:{node.targets[0].id}", text))
    return found


def test_every_patient_sentence_written_in_python_is_at_or_below_grade_8():
    texts = _python_texts()
    assert len(texts) > 10, texts  # the collector found the actions' and the channels' sentences
    problems = [f"{where}: grade {grade(t):.1f}: {plain_text(t)!r}" for where, t in texts if not is_readable(t)]
    assert not problems, "Above grade 8:\n" + "\n".join(problems)


def test_the_built_summaries_and_the_booking_check_list_are_at_or_below_grade_8():
    from actions.booking import confirmation_text
    from bot import triage
    from bot.settings import load_settings

    records = [
        triage.TriageRecord(pain_triggers=("stairs", "sitting", "running", "hills"), pain_location="below_kneecap",
                            onset="gradual", duration_weeks=10, under_16="no", age=44),
        triage.TriageRecord(pain_triggers=("jumping",), pain_location="inner_knee", onset="sudden_injury",
                            duration_weeks=0.5, under_16="yes", age=12, screens={"screen_pop_swelling": "yes"}),
        triage.TriageRecord(red_flags=("dvt",), pain_location="back_of_knee"),
        triage.TriageRecord(),
    ]
    for record in records:
        level, reasons = triage.assess(record)
        summary = triage.summary(record, level, reasons)
        assert is_readable(summary), (grade(summary), plain_text(summary))
        slots = {"patient_name": "Jess (Liam's mum)", "contact_phone": "+61412345678", "preferred_times": "weekday mornings",
                 "triage_summary": triage.describe(record)}
        check = confirmation_text(slots, load_settings(), "booking")
        assert is_readable(check), (grade(check), plain_text(check))


def test_the_booking_replies_built_in_python_are_at_or_below_grade_8():
    from actions.booking import name_needed_text, not_saved_text
    from bot.settings import load_settings

    settings = load_settings()
    for text in (name_needed_text(settings), not_saved_text(settings)):
        assert settings.clinic_phone in text
        assert is_readable(text), (grade(text), plain_text(text))
