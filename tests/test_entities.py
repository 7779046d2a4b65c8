"""What the rule-based extractor records from a patient's message (bot/entities.py).

Each row is a message and the exact set of (entity, value) pairs the triage record should get
from it: a missing pair is a fact the patient gave and the bot forgot; an extra pair is a fact
the patient never gave.
"""
from __future__ import annotations

import random
import time

import pytest

from bot.contract import PAIN_LOCATIONS, PAIN_TRIGGERS, ONSETS
from bot.entities import durations_said, KneeEntityRules, extract, number_answer


def pairs(text: str) -> set[tuple[str, object]]:
    return {(e["entity"], e["value"]) for e in extract(text)}


def values(text: str, entity: str) -> list[object]:
    """The values of one entity in a message, in order of position."""
    return [e["value"] for e in extract(text) if e["entity"] == entity]


TRIGGERS = [
    # every trigger named is returned, whatever the wording
    ("stairs and sitting both hurt", {"stairs", "sitting"}),
    ("going down steps is the worst", {"stairs"}),
    ("it aches after the movies", {"sitting"}),
    ("long drives set it off", {"sitting"}),
    ("sore after a day at my desk", {"sitting"}),
    ("pain getting up from the couch", {"sitting"}),
    ("squats and lunges at the gym", {"squatting"}),
    ("hurts when i bend down to pick things up", {"squatting"}),
    ("kneeling at church is agony", {"kneeling"}),
    ("jogging and parkrun on saturdays", {"running"}),
    ("netball landing hurts heaps", {"jumping"}),
    ("sore when i jump at basketball", {"jumping"}),
    ("uphill is fine but downhill kills", {"hills"}),
    ("long descents on the trail", {"hills"}),
    ("after a long walk or a hike", {"walking"}),
    ("riding my bike to work", {"cycling"}),
    ("spin class makes it ache", {"cycling"}),
    ("stairs, squats, running and long car trips", {"stairs", "squatting", "running", "sitting"}),
    # misspellings one letter away, and the usual "stares"
    ("runing makes it worse", {"running"}),
    ("sqautting hurts", {"squatting"}),
    ("pain going up stares", {"stairs"}),
    ("kneling in the garden", {"kneeling"}),
    # negated triggers are left out
    ("stairs are fine but squatting hurts", {"squatting"}),
    ("no pain on stairs or sitting", set()),
    ("it hurts on stairs but not when sitting", {"stairs"}),
    ("stairs dont bother me, running does", {"running"}),
    ("walking is fine, running hurts after 2km", {"running"}),
    ("i'm fine walking but hills are a killer", {"hills"}),
    ("squatting and kneeling are fine, stairs not so much", {"stairs"}),
    ("no pain on stairs and squatting hurts", {"squatting"}),
    ("stairs and squats don't hurt", set()),
    # "can't", "not just" and "no idea" look like negation but are not
    ("i can't squat or kneel", {"squatting", "kneeling"}),
    ("haven't been able to run", {"running"}),
    ("not just stairs, sitting too", {"stairs", "sitting"}),
    ("no idea why stairs hurt", {"stairs"}),
    # questions about what to do record no trigger; a report inside a question still counts
    ("should i stop running?", set()),
    ("is it ok to keep cycling", set()),
    ("why does my knee hurt on stairs", {"stairs"}),
    ("should i be worried that stairs hurt", {"stairs"}),
    ("stairs hurt heaps, should i stop running?", {"stairs"}),
    # words that only look like triggers
    ("i get 10,000 steps a day", set()),
    ("my headache is bad", set()),
    ("runner's knee, what is it", set()),
    ("my menstrual cycle is irregular", set()),
    # the same words in another sense
    ("my nose won't stop running", set()),
    ("my nose is running and my knee hurts on stairs", {"stairs"}),
    ("sorry running late", set()),
    ("i ran out of panadol", set()),
]


@pytest.mark.parametrize("text,expected", TRIGGERS)
def test_pain_triggers(text, expected):
    assert set(values(text, "pain_trigger")) == expected


LOCATIONS = [
    ("pain around the kneecap", "around_kneecap"),
    ("front of my knee aches", "around_kneecap"),
    ("it's behind the knee cap", "behind_kneecap"),
    ("deep under my kneecap", "behind_kneecap"),
    ("sharp pain behind my left kneecap", "behind_kneecap"),  # a side between "my" and the kneecap
    ("just below my right knee", "below_kneecap"),
    ("just below the kneecap", "below_kneecap"),
    ("on the inside of my knee", "inner_knee"),
    ("outside of the knee near the it band", "outer_knee"),
    ("back of my knee", "back_of_knee"),
    ("behind the knee", "back_of_knee"),
    ("the whole knee aches", "whole_knee"),
    ("hard to pinpoint", "whole_knee"),
    ("kind of behind the cap", "behind_kneecap"),
    # short answers to "where does it hurt?"
    ("mostly the front", "around_kneecap"),
    ("i think it's the inside", "inner_knee"),
    ("the back", "back_of_knee"),
]


@pytest.mark.parametrize("text,expected", LOCATIONS)
def test_pain_location(text, expected):
    assert set(values(text, "pain_location")) == {expected}


def test_location_negated_is_left_out():
    assert set(values("not behind the kneecap, more below it", "pain_location")) == set()


ONSET_CASES = [
    ("it came on slowly", "gradual"),
    ("idk it sort of came about. didnt fall or anything", "gradual"),
    ("there wasn't an injury as such", "gradual"),
    ("gradually got worse", "gradual"),
    ("it just crept up on me", "gradual"),
    ("pretty slow. didnt stack it or anything", "gradual"),
    ("no injury, it started after i upped my kms", "gradual"),
    ("started when i upped my k's for a half", "gradual"),
    ("it began when i increased my volume", "gradual"),
    ("i twisted it at footy", "sudden_injury"),
    ("after a fall off my bike", "sudden_injury"),
    ("landed badly at netball", "sudden_injury"),
    ("felt a pop and it swelled", "sudden_injury"),
    ("i got tackled on saturday", "sudden_injury"),
]


@pytest.mark.parametrize("text,expected", ONSET_CASES)
def test_onset(text, expected):
    assert set(values(text, "onset")) == {expected}


@pytest.mark.parametrize("text", [
    "my knee pops when i squat",            # a noise, not an injury
    "i have knock knees",
    "my hair is falling out",
    "i keep falling asleep at my desk",
])
def test_not_an_injury(text):
    assert not values(text, "onset")


DURATIONS = [
    ("about 6 weeks", 6.0),
    ("a couple of months", 8.7),
    ("3 days", 0.43),
    ("a fortnight", 2.0),
    ("since the comp, three weekends ago", 3.0),
    ("six wks", 6.0),
    ("1.5 months", 6.52),
    ("a month and a half ago", 6.52),
    ("had it for a year", 52.18),
    ("6-8 weeks", 8.0),
    ("a week or two", 2.0),
    ("started 2 weeks ago", 2.0),
    ("for the last month", 4.35),
    ("since yesterday", 0.14),
    ("since last week", 1.0),
]


@pytest.mark.parametrize("text,expected", DURATIONS)
def test_duration_weeks(text, expected):
    found = values(text, "duration_weeks")
    assert found == [pytest.approx(expected, abs=0.01)]
    assert isinstance(found[0], float)


@pytest.mark.parametrize("text", [
    "since last year",                      # could be two weeks or two years: the form asks
    "i run 3 times a week",                 # a frequency
    "40km a week",
    "i run 4 days a week",
    "i have a race in 8 weeks",             # time ahead
    "i'm 2 weeks out from a marathon",
    "my 12 year old son",                   # an age
    "sore for ages and i finally have a weekend off to sort it",  # time off, not how long
])
def test_no_duration(text):
    assert not values(text, "duration_weeks")


AGES = [
    ("i'm 34", 34),
    ("I'm 34 and run a lot", 34),
    ("my 12 year old", 12),
    ("my 13yo daughter", 13),
    ("14yo", 14),
    ("she is fifteen", 15),
    ("he's 16", 16),
    ("i'm 45 years old", 45),
    ("my daughter (13) does gymnastics", 13),
    ("age 52", 52),
    ("twelve-year-old boy", 12),
    ("she turned 16 last month", 16),
]


@pytest.mark.parametrize("text,expected", AGES)
def test_age(text, expected):
    found = values(text, "age")
    assert found == [expected]
    assert isinstance(found[0], int)


@pytest.mark.parametrize("text", [
    "i'm 7 out of 10 pain",
    "i'm 6 weeks postpartum",
    "i'm one of those people who sits all day",
    "i'm 100% sure",
    "i'm 70kg",
    "pain for 3 years",
])
def test_no_age(text):
    assert not values(text, "age")


SIDES = [
    ("left one", "left"),
    ("left", "left"),
    ("the right one", "right"),
    ("pain in my right knee", "right"),
    ("both knees hurt on stairs", "both"),
    ("both", "both"),
    ("it's my left", "left"),
    ("left and right", "both"),
]


@pytest.mark.parametrize("text,expected", SIDES)
def test_side(text, expected):
    assert set(values(text, "side")) == {expected}


@pytest.mark.parametrize("text", [
    "that's right",
    "i left work early",
    "you're right it hurts on the stairs",
    "stairs and sitting both hurt",
])
def test_no_side(text):
    assert not values(text, "side")


def test_offsets_point_at_the_words_in_the_original_text():
    text = "My 13yo Daughter gets pain BEHIND the kneecap on Stairs for 6 weeks, LEFT knee"
    entities = extract(text)
    assert {(e["entity"], e["value"]) for e in entities} == {
        ("age", 13), ("pain_location", "behind_kneecap"), ("pain_trigger", "stairs"),
        ("duration_weeks", 6.0), ("side", "left"),
    }
    for entity in entities:
        assert text[entity["start"]:entity["end"]] == entity["text"]
    assert [e["start"] for e in entities] == sorted(e["start"] for e in entities)


@pytest.mark.parametrize("text", ["back pain", "front of the queue", "15", "forty"])
def test_words_that_answer_only_when_alone_or_in_context(text):
    assert not values(text, "pain_location") and not values(text, "age")


@pytest.mark.parametrize("text,expected", [
    ("15", 15.0), ("forty", 40.0), ("sixty two", 62.0), ("1.5", 1.5), ("about 6", None), ("", None),
])
def test_number_answer_reads_a_bare_number_for_the_form(text, expected):
    assert number_answer(text) == expected


def test_each_value_is_recorded_once():
    entities = extract("stairs, more stairs, and the stairs at work")
    assert [(e["entity"], e["value"]) for e in entities] == [("pain_trigger", "stairs")]


def test_values_are_contract_names():
    rules = KneeEntityRules()
    assert set(rules.rules["entities"]["pain_trigger"]) == set(PAIN_TRIGGERS)
    assert set(rules.rules["entities"]["pain_location"]) == set(PAIN_LOCATIONS)
    assert set(rules.rules["entities"]["onset"]) == set(ONSETS)


@pytest.mark.parametrize("text", [
    "", "   ", None, "😀😀😀", "\x00\x01\x02", "膝が痛い", "me duele la rodilla al subir escaleras",
    "<script>alert(1)</script>", "İSTANBUL", "a" * 5000, "🦵" * 1000, "1 " * 3000,
])
def test_odd_input_never_crashes(text):
    assert isinstance(extract(text), list)


def test_html_tags_do_not_hide_words():
    text = "<b>knee</b> hurts on <i>stairs</i>"
    [entity] = extract(text)
    assert (entity["value"], text[entity["start"]:entity["end"]]) == ("stairs", "stairs")


def test_fast_enough_for_chat_and_for_pasted_text():
    extract("warm up")
    messages = [text for text, _ in TRIGGERS]
    start = time.perf_counter()
    for text in messages * 5:
        extract(text)
    per_message = (time.perf_counter() - start) / (len(messages) * 5)
    # Measured ~0.4 ms a message and ~1 s for 100 kB on an idle 2-core machine. The bounds
    # leave room for a busy CI machine; quadratic work on 100 kB would take minutes.
    assert per_message < 0.02

    rng = random.Random(7)
    pasted = " ".join(rng.choice(messages) for _ in range(5000))[:100_000]
    start = time.perf_counter()
    found = extract(pasted)
    assert time.perf_counter() - start < 20
    assert {e["value"] for e in found if e["entity"] == "pain_trigger"} >= {"stairs", "sitting"}


@pytest.mark.parametrize("text,weeks", [
    # how long THIS pain has lasted, not the history or something else that lasted
    ("Niggly on and off for a couple of years, but properly sore for the last 4 weeks", [4.0]),
    ("I've played netball for 15 years and this is the first time my knee has ached like this", []),
    ("had a scope on the other knee 10 years ago, this one has been aching for 3 weeks", [3.0]),
    ("On and off for ages, a year maybe, but it got much worse after the fun run.", []),
    ("the knee has been sore for 2 years now and it is getting worse", [104.36]),
    ("about a year", [52.18]),
])
def test_the_duration_is_this_episode(text, weeks):
    assert [e["value"] for e in extract(text) if e["entity"] == "duration_weeks"] == weeks


@pytest.mark.parametrize("text,onsets", [
    # how THIS pain began: an injury told long ago is history, unless the pain is tied to it
    ("I had a fall in 2015, fine since. This time it just crept up on me", ["gradual"]),
    ("twisted it skiing years ago, all good, and now the front aches on stairs", []),
    ("dislocated it as a teenager but this is different", []),
    ("twisted it skiing years ago and it's never been right since", ["sudden_injury"]),
    ("twisted it at netball on saturday", ["sudden_injury"]),
])
def test_the_onset_is_this_pains(text, onsets):
    assert [e["value"] for e in extract(text) if e["entity"] == "onset"] == onsets


@pytest.mark.parametrize("text,places", [
    ("sore right under the kneecap, on the tendon", ["below_kneecap"]),
    ("under my kneecap where the patellar tendon is", ["below_kneecap"]),
    ("deep under the kneecap when I squat", ["behind_kneecap"]),
])
def test_the_place_is_read_with_anatomy(text, places):
    assert [e["value"] for e in extract(text) if e["entity"] == "pain_location"] == places


@pytest.mark.parametrize("text,onsets", [
    # a first item that is itself a negation carries it down the list (blind persona set 9), and
    # a bare "no" is a negation at all (the YAML file had read it as false)
    ("Gradually. There was no knock or injury I know of, it just crept up", ["gradual"]),
    ("no twist or fall, it came on bit by bit", ["gradual"]),
    ("it was either a fall or a twist at training", ["sudden_injury"]),
])
def test_a_negated_first_item_negates_the_list(text, onsets):
    assert [e["value"] for e in extract(text) if e["entity"] == "onset"] == onsets


def test_a_bare_no_negates_the_trigger_after_it():
    assert values("no squats pain, only the stairs", "pain_trigger") == ["stairs"]


@pytest.mark.parametrize("text,place", [
    # "just under the kneecap" is the tendon below it (blind persona set 9), "deep under" is behind
    ("it's just under my kneecap, the tendony bit", "below_kneecap"),
    ("there's a sore bump under her kneecap", "below_kneecap"),
    ("right under the kneecap when I land", "below_kneecap"),
    ("deep under the kneecap when I squat", "behind_kneecap"),
])
def test_just_under_the_kneecap_is_below_it(text, place):
    assert values(text, "pain_location") == [place]


@pytest.mark.parametrize("text,guess", [
    # a guess, not a length: not recorded in passing, so the duration question is asked (blind
    # persona set 10: "building for months" was recorded as 8.7 weeks; the answer was half a year)
    ("on and off for years", 104.36),
    ("it's been building for months now", 8.7),
    ("sore for a few weeks", 3.0),
    ("several months of this", 13.05),
])
def test_a_guessed_duration_is_not_recorded_in_passing(text, guess):
    assert values(text, "duration_weeks") == []
    assert values(text, "duration_unsure") == [pytest.approx(guess, abs=0.01)]
    assert durations_said(text) == [pytest.approx(guess, abs=0.01)]  # the answer to "how long?"
