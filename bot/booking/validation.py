"""Check what a patient types into the booking form.

Each validator returns a `Checked`: either the clean value (phones in E.164, `+61412345678`)
or a short re-ask the bot can say as it is (plain English, school grade 8 or below). Messages
never repeat what the patient typed, so they are safe to log and show.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

PHONE_EXAMPLE = "0412 345 678"
EMAIL_EXAMPLE = "name@example.com"
NAME_MAX_LENGTH = 80
PREFERRED_TIMES_MAX_LENGTH = 200


@dataclass(frozen=True)
class Checked:
    """The clean value, or the message to ask again with (exactly one of the two is set)."""

    value: str | None = None
    reask: str | None = None

    @property
    def ok(self) -> bool:
        return self.reask is None


def _reask(message: str) -> Checked:
    return Checked(reask=message)


# --- phone numbers ---------------------------------------------------------------------------

_PHONE_ALLOWED = re.compile(r"^\+?[\d\s\-().]+$")
# Mobiles start 04; geographic landlines 02, 03, 07 and 08.
_AU_FIRST_DIGITS = {"2", "3", "4", "7", "8"}


class PhoneMessages:
    EMPTY = f"Please type your phone number, like {PHONE_EXAMPLE}."
    NOT_A_NUMBER = f"That does not look like a phone number. Please use numbers, like {PHONE_EXAMPLE}."
    SHORT = f"That number looks short. Please type your mobile, like {PHONE_EXAMPLE}."
    LONG = f"That number looks too long. Please check it and type it again, like {PHONE_EXAMPLE}."
    NEEDS_AREA_CODE = "Please add your area code to that number, like (03) 9123 4567."
    NOT_AUSTRALIAN = f"Please give an Australian number we can call, like {PHONE_EXAMPLE}."
    NOT_CALLABLE = f"We can't call that kind of number back. Please give a mobile or home number, like {PHONE_EXAMPLE}."


def validate_phone(text: str | None) -> Checked:
    """An Australian mobile or landline in any usual format, as E.164 (+61...)."""
    raw = (text or "").strip()
    if not raw:
        return _reask(PhoneMessages.EMPTY)
    if not _PHONE_ALLOWED.match(raw) or "+" in raw[1:]:
        return _reask(PhoneMessages.NOT_A_NUMBER)
    # "+61 (0)4..." is common in email signatures: the (0) is the trunk prefix, not a digit.
    raw = re.sub(r"\(\s*0\s*\)", "", raw)
    digits = re.sub(r"\D", "", raw)
    international = raw.startswith("+") or digits.startswith("00")
    if digits.startswith("00"):
        digits = digits[2:]
    if international:
        if not digits.startswith("61"):
            return _reask(PhoneMessages.NOT_AUSTRALIAN)
        national = "0" + digits[2:].lstrip("0")
    elif digits.startswith("61") and len(digits) == 11:
        national = "0" + digits[2:]
    elif digits.startswith("4") and len(digits) == 9:
        national = "0" + digits  # a mobile typed without its leading zero
    else:
        national = digits

    if national.startswith("1"):
        return _reask(PhoneMessages.NOT_CALLABLE)  # 13, 1300, 1800: inbound-only numbers
    if not national.startswith("0"):
        if len(national) == 8:
            return _reask(PhoneMessages.NEEDS_AREA_CODE)
        return _reask(PhoneMessages.SHORT if len(national) < 10 else PhoneMessages.NOT_AUSTRALIAN)
    if len(national) < 10:
        return _reask(PhoneMessages.SHORT)
    if len(national) > 10:
        return _reask(PhoneMessages.LONG)
    if national[1] not in _AU_FIRST_DIGITS:
        return _reask(PhoneMessages.NOT_AUSTRALIAN)
    return Checked(value="+61" + national[1:])


def phone_for_people(e164: str) -> str:
    """Show a stored number the way Australians write it: 0412 345 678 or (03) 9123 4567."""
    if not e164.startswith("+61") or len(e164) != 12:
        return e164
    national = "0" + e164[3:]
    if national.startswith("04"):
        return f"{national[:4]} {national[4:7]} {national[7:]}"
    return f"({national[:2]}) {national[2:6]} {national[6:]}"


# --- email addresses -------------------------------------------------------------------------

# RFC 5322 dot-atom local part (no quoted strings, no comments), plus non-ASCII letters (RFC 6531).
_ATEXT = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class EmailMessages:
    EMPTY = f"Please type your email, like {EMAIL_EXAMPLE}."
    SPACES = f"An email has no spaces. Please type it again, like {EMAIL_EXAMPLE}."
    NO_AT = f"That email is missing the @ sign. Please type it like {EMAIL_EXAMPLE}."
    MANY_AT = f"An email has only one @ sign. Please type it again, like {EMAIL_EXAMPLE}."
    CUT_OFF = f"That email looks cut off. Please type all of it, like {EMAIL_EXAMPLE}."
    BAD_CHARACTER = "That email has a sign we can't use. Please check it and type it again."
    NO_DOT = "That email needs a full ending, like .com or .com.au. Please type it again."
    BAD_DOMAIN = "The part after the @ sign does not look right. Please check it and type it again."
    TOO_LONG = "That email is too long. Please check it and type it again."


def validate_email(text: str | None) -> Checked:
    """A deliverable-looking address: dot-atom local part, a dotted domain (IDN allowed)."""
    raw = unicodedata.normalize("NFC", (text or "").strip())
    if raw.lower().startswith("mailto:"):
        raw = raw[len("mailto:") :]
    if raw.startswith("<") and raw.endswith(">"):
        raw = raw[1:-1].strip()
    if not raw:
        return _reask(EmailMessages.EMPTY)
    if any(ch.isspace() for ch in raw):
        return _reask(EmailMessages.SPACES)
    if any(unicodedata.category(ch).startswith("C") for ch in raw):
        return _reask(EmailMessages.BAD_CHARACTER)
    if raw.count("@") == 0:
        return _reask(EmailMessages.NO_AT)
    if raw.count("@") > 1:
        return _reask(EmailMessages.MANY_AT)
    local, domain = raw.split("@")
    if not local or not domain:
        return _reask(EmailMessages.CUT_OFF)
    if len(local) > 64 or len(raw) > 254:
        return _reask(EmailMessages.TOO_LONG)
    if not _local_part_ok(local):
        return _reask(EmailMessages.BAD_CHARACTER)
    domain = domain.rstrip(".")
    if "." not in domain:
        return _reask(EmailMessages.NO_DOT)
    ascii_domain = _ascii_domain(domain)
    if ascii_domain is None:
        return _reask(EmailMessages.BAD_DOMAIN)
    return Checked(value=f"{local}@{_unicode_domain(ascii_domain)}")


def _local_part_ok(local: str) -> bool:
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    return all(ch == "." or ch in _ATEXT or (ord(ch) > 127 and unicodedata.category(ch)[0] in "LMN") for ch in local)


def _ascii_domain(domain: str) -> str | None:
    """The domain in its ASCII (punycode) form, or None when it cannot be a real domain."""
    try:
        import idna  # installed with requests; implements IDNA 2008 with UTS 46 mapping

        ascii_form = idna.encode(domain, uts46=True).decode("ascii")
    except ImportError:  # pragma: no cover - idna ships with requests
        try:
            ascii_form = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    except (idna.IDNAError, UnicodeError):
        return None
    ascii_form = ascii_form.lower()
    labels = ascii_form.split(".")
    if len(ascii_form) > 253 or len(labels) < 2:
        return None
    if not all(_LABEL.match(label) for label in labels):
        return None
    tld = labels[-1]
    if not (tld.startswith("xn--") or (tld.isalpha() and len(tld) >= 2)):
        return None
    return ascii_form


def _unicode_domain(ascii_domain: str) -> str:
    try:
        import idna

        return idna.decode(ascii_domain)
    except Exception:  # pragma: no cover - keep the ASCII form if decoding is not possible
        return ascii_domain


# --- names and free text ---------------------------------------------------------------------

# Letters and the punctuation names and the notes people add to them use: "O'Brien-Smith",
# "Jess (Liam's mum)", "Tom Kelly, for my son", "Ana & Leo".
_NAME_PUNCTUATION = set(" '’-.,()&/")


class NameMessages:
    EMPTY = "Please type your name."
    SHORT = "Please type your full name."
    LONG = f"That name is too long. Please type the name we should use, up to {NAME_MAX_LENGTH} letters."
    EMAIL = "That looks like an email. Please type your name."
    LETTERS = "Please type your name using letters only."


def validate_name(text: str | None) -> Checked:
    """A person's name: trimmed, single-spaced, letters with ' - . , ( ) & / only (a note like
    "(Liam's mum)" is kept for staff to read), no digits, HTML or control characters."""
    raw = unicodedata.normalize("NFC", text or "")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in raw):
        return _reask(NameMessages.LETTERS)
    name = " ".join(raw.split())
    if not name:
        return _reask(NameMessages.EMPTY)
    if "@" in name:
        return _reask(NameMessages.EMAIL)
    if len(name) > NAME_MAX_LENGTH:
        return _reask(NameMessages.LONG)
    for ch in name:
        if ch in _NAME_PUNCTUATION:
            continue
        if unicodedata.category(ch)[0] not in "LM":
            return _reask(NameMessages.LETTERS)
    if sum(1 for ch in name if unicodedata.category(ch)[0] == "L") < 2:
        return _reask(NameMessages.SHORT)
    return Checked(value=name)


# Words that are never a name on their own: a reply ("no", "skip"), a greeting, a request.
_NOT_NAME_WORDS = frozenset(
    "yes yeah yep yup no nope nah ok okay sure maybe hi hey hello hiya yo g'day gday good morning "
    "afternoon evening night thanks thank cheers bye skip stop cancel book booking please pls later "
    "now you me my i im i'm the a an it is not what why how sorry wait hmm um all worries "
    "knee knees pain sore hurts".split()
)
_NAME_WORD = re.compile(r"^[^\W\d_][\w'.-]*$")


def looks_like_a_name(text: str | None) -> bool:
    """One to four words of letters, none of them a reply, greeting or request word, maybe with a
    note after them: "Noah Kelly" is a name whatever the intent classifier makes of it (it read
    "Noah" as "no": blind persona set 7), and so is "Ruby Nguyen (dad Steve booking)" (read as a
    request to book: set 6); "no thanks" and "skip" are not."""
    # the name before a note: "Ruby Nguyen (dad Steve booking)", "Ana Silva, her mum" (persona set 6)
    head = re.split(r"[(,]|\s[-–]\s", str(text or ""), maxsplit=1)[0]
    words = head.split()
    return 0 < len(words) <= 4 and all(
        _NAME_WORD.match(w) and w.casefold().strip(".") not in _NOT_NAME_WORDS for w in words
    )


# Where a note after a name starts: a comma, or a full stop before "I'm her mum", "for my son"...
# A name with the name the person goes by ("Konstantinos Georgiou, call me Kostas"): "call me" here
# is not a request for a call-back (blind persona set 4).
GOES_BY = re.compile(
    r"^\s*(?!(?:please|pls|plz|can|could|would|will|just|you|u|i|ok|okay|yes|no|hi|hey)\b)[A-Za-z][\w'.-]*"
    r"(?:\s+[A-Za-z][\w'.-]*){0,3}\s*[,.(-]?\s*(?:but\s+|or\s+|and\s+)?(?:please\s+)?"
    r"(?:just\s+)?(?:everyone\s+|people\s+|friends\s+)?(?:call|calls)\s+me\s+"
    r"(?!(?:back|later|tomorrow|today|tonight|now|asap|soon|on|at|after|before)\b)[A-Za-z][\w'-]*\W*$",
    re.IGNORECASE,
)
_NAME_NOTE = re.compile(r",|\.\s+(?=(?:i'?m|i am|i|my|her|his|their|for|she|he|we|it'?s|this)\b)", re.IGNORECASE)


# "It's for my husband, Graham Lee", "for my son Tom Kelly": who it is for, before the name.
_FOR_SOMEONE = re.compile(
    r"^(?:(?:it'?s|this is|booking|book(?:ing)? it)\s+)?for\s+(?:my|our)\s+\w+[,:]?\s*", re.IGNORECASE
)


def name_words(name: str) -> int:
    """The words of the name itself, without a note about who is writing or who it is for."""
    first, last = split_name(name)
    return len(f"{first} {last}".split())


def split_name(name: str) -> tuple[str, str]:
    """First and last name for systems that need both; a single name fills only the first. A note
    in brackets or after a comma or a full stop ("Jess (Liam's mum)", "Tom Kelly, for my son") is left
    out."""
    core = _NAME_NOTE.split(_FOR_SOMEONE.sub("", re.sub(r"\([^)]*\)?", " ", name).strip()))[0]
    parts = core.split() or name.split()
    if len(parts) == 1:
        return parts[0], ""
    return " ".join(parts[:-1]), parts[-1]


class TimesMessages:
    EMPTY = "When suits you best? For example, weekday mornings."
    LONG = f"Please keep that short, up to {PREFERRED_TIMES_MAX_LENGTH} letters. For example, weekday mornings."


# Words that say when: a day, a part of the day, a clock time.
TIME_WORDS = re.compile(
    r"\b(?:week ?days?|week ?ends?|mornings?|afternoons?|evenings?|nights?|any ?time|mon|tue|wed|thu|fri|sat|sun)"
    r"|\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b|\b\d{1,2}(?::\d\d)?\s*(?:am|pm)\b|\b(?:before|after) \d",
    re.IGNORECASE,
)


def validate_preferred_times(text: str | None) -> Checked:
    """Free text about good times to call or book: trimmed, no markup or control characters."""
    cleaned = re.sub(r"<[^>]*>", " ", unicodedata.normalize("NFC", text or ""))
    cleaned = "".join(ch for ch in cleaned if unicodedata.category(ch) != "Cc" or ch == " ")
    cleaned = " ".join(cleaned.replace("<", " ").replace(">", " ").split())
    if not cleaned:
        return _reask(TimesMessages.EMPTY)
    if len(cleaned) > PREFERRED_TIMES_MAX_LENGTH:
        return _reask(TimesMessages.LONG)
    return Checked(value=cleaned)


def validate_location(text: str | None, locations: Sequence[str]) -> Checked:
    """One of the clinic's locations (any case); with one location it is always that one."""
    if len(locations) == 1:
        return Checked(value=locations[0])
    wanted = " ".join((text or "").split()).casefold()
    for location in locations:
        if location.casefold() == wanted:
            return Checked(value=location)
    matches = [loc for loc in locations if wanted and wanted in loc.casefold()]
    if len(matches) == 1:
        return Checked(value=matches[0])
    return _reask(f"Please choose one of our clinics: {', '.join(locations)}.")
