"""Opening hours in the clinic's own time zone, and the sentence patients read."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import textstat

from bot.booking.hours import is_open_now, next_opening, opening_hours_sentence
from bot.settings import load_settings

MELBOURNE = ZoneInfo("Australia/Melbourne")
DEFAULT = load_settings({})  # mon-fri 07:00-19:00; sat 08:00-12:00


@pytest.mark.parametrize("local, open_", [
    (datetime(2025, 3, 4, 7, 0), True),      # Tuesday at opening time
    (datetime(2025, 3, 4, 6, 59), False),
    (datetime(2025, 3, 4, 18, 59), True),
    (datetime(2025, 3, 4, 19, 0), False),    # closing time is closed
    (datetime(2025, 3, 8, 11, 30), True),    # Saturday morning
    (datetime(2025, 3, 8, 12, 0), False),
    (datetime(2025, 3, 9, 10, 0), False),    # Sunday
])
def test_open_or_closed_by_the_clinic_clock(local, open_):
    assert is_open_now(DEFAULT, local.replace(tzinfo=MELBOURNE)) is open_


def test_utc_times_are_judged_in_melbourne():
    # 21:30 UTC on a Monday is 08:30 on Tuesday in Melbourne (AEDT, UTC+11): open.
    assert is_open_now(DEFAULT, datetime(2025, 3, 3, 21, 30, tzinfo=timezone.utc))
    # 10:00 UTC on a Tuesday is 21:00 in Melbourne: closed.
    assert not is_open_now(DEFAULT, datetime(2025, 3, 4, 10, 0, tzinfo=timezone.utc))


def test_a_clinic_in_another_zone_uses_its_own_clock():
    perth = load_settings({"CLINIC_TIMEZONE": "Australia/Perth"})
    moment = datetime(2025, 3, 4, 0, 30, tzinfo=timezone.utc)  # 11:30 Melbourne, 08:30 Perth
    assert is_open_now(perth, moment) and is_open_now(DEFAULT, moment)
    moment = datetime(2025, 3, 4, 8, 30, tzinfo=timezone.utc)  # 19:30 Melbourne, 16:30 Perth
    assert is_open_now(perth, moment) and not is_open_now(DEFAULT, moment)


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        is_open_now(DEFAULT, datetime(2025, 3, 4, 9, 0))


def test_next_opening_skips_sunday():
    saturday_evening = datetime(2025, 3, 8, 17, 0, tzinfo=MELBOURNE)
    assert next_opening(DEFAULT, saturday_evening) == datetime(2025, 3, 10, 7, 0, tzinfo=MELBOURNE)


def test_default_hours_read_as_one_plain_sentence():
    text = opening_hours_sentence(DEFAULT)
    assert text == ("We are open Monday to Friday, 7 am to 7 pm, and Saturday, 8 am to midday. "
                    "We are closed on Sunday.")
    assert textstat.flesch_kincaid_grade(text) <= 8


def test_split_days_and_half_hours_are_described():
    settings = load_settings({"CLINIC_HOURS": "mon,tue 07:30-12:00,13:00-18:00; thu 09:00-17:00"})
    text = opening_hours_sentence(settings)
    assert text.startswith("We are open Monday and Tuesday, 7:30 am to midday and 1 pm to 6 pm, and Thursday, 9 am to 5 pm.")
    assert text.endswith("We are closed on Wednesday, Friday, Saturday and Sunday.")
