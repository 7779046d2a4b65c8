"""Clinic opening hours: is the clinic open now, and the hours as a plain sentence."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from bot.settings import OpeningPeriod, Settings

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _local(settings: Settings, now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(settings.zone)


def is_open_now(settings: Settings, now: datetime) -> bool:
    """Whether `now` falls in an opening period, judged by the clinic's own clock."""
    local = _local(settings, now)
    clock = local.time().replace(tzinfo=None)
    return any(p.weekday == local.weekday() and p.opens <= clock < p.closes for p in settings.clinic_hours)


def next_opening(settings: Settings, now: datetime) -> datetime | None:
    """When the clinic next opens after `now` (in the clinic's time zone); None if never."""
    local = _local(settings, now)
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        for period in settings.clinic_hours:
            if period.weekday != day.weekday():
                continue
            opens = datetime.combine(day, period.opens, tzinfo=settings.zone)
            if opens > local:
                return opens
    return None


def time_words(moment: time) -> str:
    """7 am, 7:30 pm, midday, midnight: how people say a time."""
    if moment in (time(0, 0), time(23, 59, 59)):
        return "midnight"
    if moment == time(12, 0):
        return "midday"
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    return f"{hour} {suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d} {suffix}"


def _day_span(first: int, last: int) -> str:
    if first == last:
        return DAY_NAMES[first]
    if last == first + 1:
        return f"{DAY_NAMES[first]} and {DAY_NAMES[last]}"
    return f"{DAY_NAMES[first]} to {DAY_NAMES[last]}"


def opening_hours_sentence(settings: Settings) -> str:
    """For example: "We are open Monday to Friday, 7 am to 7 pm, and Saturday, 8 am to midday.
    We are closed on Sunday." """
    by_day: dict[int, tuple[OpeningPeriod, ...]] = {
        day: tuple(p for p in settings.clinic_hours if p.weekday == day) for day in range(7)
    }
    spans: list[tuple[int, int, str]] = []  # first day, last day, times
    for day in range(7):
        if not by_day[day]:
            continue
        times = " and ".join(f"{time_words(p.opens)} to {time_words(p.closes)}" for p in by_day[day])
        if spans and spans[-1][1] == day - 1 and spans[-1][2] == times:
            spans[-1] = (spans[-1][0], day, times)
        else:
            spans.append((day, day, times))
    if not spans:
        return "Please call us to check our opening hours."
    parts = [f"{_day_span(first, last)}, {times}" for first, last, times in spans]
    opening = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", and " + parts[-1]
    closed = [DAY_NAMES[day] for day in range(7) if not by_day[day]]
    sentence = f"We are open {opening}."
    if closed:
        names = closed[0] if len(closed) == 1 else ", ".join(closed[:-1]) + " and " + closed[-1]
        sentence += f" We are closed on {names}."
    return sentence
