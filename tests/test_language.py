"""Messages in another language, or in no words at all, are recognised (bot/language.py) and
given their own intent by the last NLU component (components/language_guard.py); no English
message the bot was trained on or tested with is mistaken for one."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.language import is_gibberish, other_language
from components.language_guard import LANGUAGE_KEY, LanguageGuard

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text", [
    "me duele la rodilla cuando subo escaleras",                  # Spanish
    "mi fa male il ginocchio quando salgo le scale",              # Italian
    "tôi bị đau đầu gối khi chạy",                                # Vietnamese
    "masakit ang tuhod ko kapag tumatakbo",                       # Tagalog
    "lutut saya sakit kalau lari",                                # Indonesian
    "j'ai mal au genou quand je cours",                           # French
    "mein Knie tut weh beim Laufen",                              # German
    "我跑步的时候膝盖疼",                                          # Chinese
    "ركبتي تؤلمني عند صعود الدرج",                                # Arabic
    "με πονάει το γόνατο όταν τρέχω",                             # Greek
    "घुटने में दर्द है",                                           # Hindi
])
def test_a_message_in_another_language_is_recognised(text):
    assert other_language(text)


@pytest.mark.parametrize("text", [
    "my kne hurtz wen i run up hils",
    "knee sore after parkrun this arvo",
    "ta ta for now",
    "i'm training for the sydney to hobart",
    "hola",                     # one word: could be anyone's greeting
    "Nguyen Thi Hoa",           # a name, three words
    "🙂🦵😭",
    "",
])
def test_english_with_typos_slang_or_names_is_not_another_language(text):
    assert other_language(text) is None


def _training_and_test_phrases():
    texts = []
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        for block in yaml.safe_load(path.read_text()).get("nlu", []):
            if "intent" in block:
                for line in block["examples"].splitlines():
                    if line.strip().startswith("- "):
                        texts.append(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line.strip()[2:]))
    for name in ("red_flags.yml", "intents_blind.yml"):
        texts += [item["text"] for item in yaml.safe_load((ROOT / "tests" / "vignettes" / name).read_text())]
    return texts


def test_no_english_phrase_of_the_training_data_or_the_vignettes_is_taken_for_another_language():
    texts = _training_and_test_phrases()
    assert len(texts) > 4000
    assert [t for t in texts if other_language(t)] == []
    assert [t for t in texts if is_gibberish(t)] == []


def test_keyboard_mash_is_gibberish_and_a_misspelt_knee_is_not():
    assert is_gibberish("asdkjh qwoeiu zxmcnb")
    assert not is_gibberish("kneee sorre")
    assert not is_gibberish("me duele la rodilla cuando subo escaleras")


def _message(text, intent="ask_vmo", entities=None):
    message = Message(data={TEXT: text})
    ranked = {"name": intent, "confidence": 0.7}
    message.set(INTENT, ranked)
    message.set(INTENT_RANKING_KEY, [ranked])
    message.set(ENTITIES, entities or [])
    return message


def test_the_component_gives_another_language_its_intent_and_keeps_what_the_classifier_said():
    guard = LanguageGuard()
    [message] = guard.process([_message("me duele la rodilla cuando subo escaleras")])
    assert message.get(INTENT)["name"] == "other_language"
    assert message.get(LANGUAGE_KEY) == {"detected": "es", "classified_as": "ask_vmo"}
    assert message.get(INTENT_RANKING_KEY)[1]["name"] == "ask_vmo"


def test_the_component_sends_gibberish_to_the_fallback_unless_the_rules_found_something():
    guard = LanguageGuard()
    [mash] = guard.process([_message("asdkjh qwoeiu zxmcnb", intent="out_of_scope")])
    assert mash.get(INTENT)["name"] == "nlu_fallback"
    found = [{"entity": "pain_trigger", "value": "squatting"}]
    [typo] = guard.process([_message("sqauttng hurtz", intent="pain_when_squatting", entities=found)])
    assert typo.get(INTENT)["name"] == "pain_when_squatting" and typo.get(LANGUAGE_KEY) is None


def test_the_component_leaves_english_and_button_payloads_alone():
    guard = LanguageGuard()
    english, payload = guard.process([_message("my knee hurts on stairs", "pain_on_stairs"),
                                      _message("/inform{\"side\":\"left\"}", "inform")])
    assert english.get(INTENT)["name"] == "pain_on_stairs" and english.get(LANGUAGE_KEY) is None
    assert payload.get(INTENT)["name"] == "inform"
