"""What patients type into the booking form: clean values, or a plain re-ask."""
import inspect

import pytest
import textstat

from bot.booking import validation as v
from bot.booking.validation import (
    phone_for_people, split_name, validate_email, validate_location, validate_name, validate_phone,
    validate_preferred_times,
)

# ACMA keeps 0491 570 xxx and (0X) 5550 xxxx for fiction: safe numbers to put in tests.
PHONES_OK = [
    ("0491 570 156", "+61491570156"),
    ("0491570156", "+61491570156"),
    ("0491-570-156", "+61491570156"),
    ("491 570 156", "+61491570156"),
    ("+61 491 570 156", "+61491570156"),
    ("+61491570156", "+61491570156"),
    ("0061 491 570 156", "+61491570156"),
    ("61 491 570 156", "+61491570156"),
    ("+61 (0) 491 570 156", "+61491570156"),
    ("(03) 5550 1234", "+61355501234"),
    ("03 5550 1234", "+61355501234"),
    ("(02) 5550-1234", "+61255501234"),
    ("07.5550.1234", "+61755501234"),
    ("+61 8 5550 1234", "+61855501234"),
    ("  0491 570 156  ", "+61491570156"),
]

PHONES_BAD = [
    ("", v.PhoneMessages.EMPTY),
    ("   ", v.PhoneMessages.EMPTY),
    ("call me", v.PhoneMessages.NOT_A_NUMBER),
    ("0491 570 15x", v.PhoneMessages.NOT_A_NUMBER),
    ("0491+570156", v.PhoneMessages.NOT_A_NUMBER),
    ("0491 570", v.PhoneMessages.SHORT),
    ("04915", v.PhoneMessages.SHORT),
    ("0491 570 156 7", v.PhoneMessages.LONG),
    ("5550 1234", v.PhoneMessages.NEEDS_AREA_CODE),
    ("1300 555 012", v.PhoneMessages.NOT_CALLABLE),
    ("1800 555 012", v.PhoneMessages.NOT_CALLABLE),
    ("+44 20 7946 0958", v.PhoneMessages.NOT_AUSTRALIAN),
    ("+1 212 555 0100", v.PhoneMessages.NOT_AUSTRALIAN),
    ("0955501234", v.PhoneMessages.NOT_AUSTRALIAN),
]

EMAILS_OK = [
    ("jo@example.com", "jo@example.com"),
    ("Jo.Smith+knee@Example.COM.AU", "Jo.Smith+knee@example.com.au"),
    ("  jo@example.com ", "jo@example.com"),
    ("mailto:jo@example.com", "jo@example.com"),
    ("<jo@example.com>", "jo@example.com"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("jo_smith-99@mail.example.org", "jo_smith-99@mail.example.org"),
    ("jo@bücher.de", "jo@bücher.de"),
    ("jo@xn--bcher-kva.de", "jo@bücher.de"),
    ("zoë@例え.jp", "zoë@例え.jp"),
    ("jo@example.com.", "jo@example.com"),
]

EMAILS_BAD = [
    ("", v.EmailMessages.EMPTY),
    ("jo smith@example.com", v.EmailMessages.SPACES),
    ("jo@example .com", v.EmailMessages.SPACES),
    ("jo.example.com", v.EmailMessages.NO_AT),
    ("jo@@example.com", v.EmailMessages.MANY_AT),
    ("jo@home@example.com", v.EmailMessages.MANY_AT),
    ("@example.com", v.EmailMessages.CUT_OFF),
    ("jo@", v.EmailMessages.CUT_OFF),
    ("jo@localhost", v.EmailMessages.NO_DOT),
    (".jo@example.com", v.EmailMessages.BAD_CHARACTER),
    ("jo.@example.com", v.EmailMessages.BAD_CHARACTER),
    ("jo..smith@example.com", v.EmailMessages.BAD_CHARACTER),
    ('"jo"@example.com', v.EmailMessages.BAD_CHARACTER),
    ("jo(x)@example.com", v.EmailMessages.BAD_CHARACTER),
    ("jo@-example.com", v.EmailMessages.BAD_DOMAIN),
    ("jo@example-.com", v.EmailMessages.BAD_DOMAIN),
    ("jo@exa_mple.com", v.EmailMessages.BAD_DOMAIN),
    ("jo@example..com", v.EmailMessages.BAD_DOMAIN),
    ("jo@example.c", v.EmailMessages.BAD_DOMAIN),
    ("jo@example.123", v.EmailMessages.BAD_DOMAIN),
    ("jo@[127.0.0.1]", v.EmailMessages.BAD_DOMAIN),
    ("x" * 65 + "@example.com", v.EmailMessages.TOO_LONG),
    ("jo\u0000@example.com", v.EmailMessages.BAD_CHARACTER),
]


@pytest.mark.parametrize("typed, e164", PHONES_OK)
def test_australian_numbers_in_any_usual_format_become_e164(typed, e164):
    checked = validate_phone(typed)
    assert checked.ok and checked.value == e164 and checked.reask is None


@pytest.mark.parametrize("typed, message", PHONES_BAD)
def test_bad_numbers_get_a_helpful_reask(typed, message):
    checked = validate_phone(typed)
    assert not checked.ok and checked.value is None
    assert checked.reask == message


@pytest.mark.parametrize("e164, shown", [
    ("+61491570156", "0491 570 156"), ("+61355501234", "(03) 5550 1234"), ("+4420", "+4420")])
def test_numbers_are_read_back_the_australian_way(e164, shown):
    assert phone_for_people(e164) == shown


@pytest.mark.parametrize("typed, clean", EMAILS_OK)
def test_real_email_addresses_are_accepted(typed, clean):
    checked = validate_email(typed)
    assert checked.ok, checked.reask
    assert checked.value == clean


@pytest.mark.parametrize("typed, message", EMAILS_BAD)
def test_broken_email_addresses_get_a_reask(typed, message):
    checked = validate_email(typed)
    assert not checked.ok
    assert checked.reask == message


@pytest.mark.parametrize("typed, clean", [
    ("  Jo   Smith ", "Jo Smith"),
    ("Seán O’Brien", "Seán O’Brien"),
    ("Mary-Jane d'Arcy", "Mary-Jane d'Arcy"),
    ("Nguyễn Văn An", "Nguyễn Văn An"),
    ("J. R. Smith", "J. R. Smith"),
    ("Cher", "Cher"),
])
def test_names_are_trimmed_and_kept(typed, clean):
    assert validate_name(typed).value == clean


@pytest.mark.parametrize("typed, message", [
    ("", v.NameMessages.EMPTY),
    ("   ", v.NameMessages.EMPTY),
    ("J", v.NameMessages.SHORT),
    ("<b>Jo</b>", v.NameMessages.LETTERS),
    ("<script>alert(1)</script>", v.NameMessages.LETTERS),
    ("Jo\x07 Smith", v.NameMessages.LETTERS),
    ("Jo Smith 2", v.NameMessages.LETTERS),
    ("jo@example.com", v.NameMessages.EMAIL),
    ("A" * 81, v.NameMessages.LONG),
])
def test_names_with_markup_digits_or_control_characters_are_reasked(typed, message):
    assert validate_name(typed).reask == message


def test_single_names_fill_the_first_name_only():
    assert split_name("Cher") == ("Cher", "")
    assert split_name("Mary Jane Smith") == ("Mary Jane", "Smith")


def test_preferred_times_lose_markup_and_keep_their_words():
    assert validate_preferred_times(" <i>weekday</i>\x00 mornings ").value == "weekday mornings"
    assert validate_preferred_times("<>").reask == v.TimesMessages.EMPTY
    assert validate_preferred_times("x" * 201).reask == v.TimesMessages.LONG


def test_locations_match_the_clinic_list():
    assert validate_location(None, ("Carlton",)).value == "Carlton"
    assert validate_location("fitzroy", ("Carlton", "Fitzroy North")).value == "Fitzroy North"
    assert validate_location("Bondi", ("Carlton", "Fitzroy")).reask == "Please choose one of our clinics: Carlton, Fitzroy."


def _all_reask_messages():
    for holder in (v.PhoneMessages, v.EmailMessages, v.NameMessages, v.TimesMessages):
        for name, value in inspect.getmembers(holder):
            if name.isupper():
                yield f"{holder.__name__}.{name}", value


@pytest.mark.parametrize("name, message", list(_all_reask_messages()))
def test_every_reask_is_plain_english_at_grade_8_or_below(name, message):
    assert textstat.flesch_kincaid_grade(message) <= 8, name
    assert len(message.split(". ")) <= 3 and len(message) <= 110, name


@pytest.mark.parametrize("typed,first,last", [
    ("Jess (Liam's mum)", "Jess", ""),
    ("Shane O'Brien-Smith", "Shane", "O'Brien-Smith"),
    ("Tom Kelly, for my son", "Tom", "Kelly"),
    ("Anika Sharma. I'm her mum, Priya", "Anika", "Sharma"),
    ("Dr. J. Smith", "Dr. J.", "Smith"),
])
def test_names_with_brackets_notes_and_apostrophes_are_kept_whole_and_split_without_the_note(typed, first, last):
    assert validate_name(typed).value == typed  # staff read the note as written
    assert split_name(typed) == (first, last)  # a booking system gets the name alone


@pytest.mark.parametrize("typed,first,last", [
    ("It's for my husband, Graham O'Brien-Smith. I'm Maureen, his wife", "Graham", "O'Brien-Smith"),
    ("for my son Tom Kelly", "Tom", "Kelly"),
])
def test_who_the_booking_is_for_comes_before_the_name(typed, first, last):
    assert split_name(typed) == (first, last)
