"""Forms: every value from a request is validated here before it reaches a query."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import BadRequest
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from bot.contract import ALL_INTENTS, RED_FLAG_CODES, TRIAGE_LEVELS

from . import signin
from .models import ConversationText, StaffMember

INTENT_NAME = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_]*(/[A-Za-z0-9_]+)?$",
    "An intent name is letters, digits and underscores, for example pain_on_stairs.",
)
TAG_NAME = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9 _\-]*$", "A tag is letters, digits, spaces, hyphens and underscores."
)
LEVEL_CHOICES = [("", "Any level")] + [(level, level) for level in reversed(TRIAGE_LEVELS)]
FLAG_CHOICES = [("", "Any red flag")] + [(code, code) for code in RED_FLAG_CODES]
BOOKING_CHOICES = [
    ("", "Any"), ("any", "Booking or call-back"), ("booking", "Booking"), ("callback", "Call-back"),
    ("none", "Neither"),
]
REVIEWED_CHOICES = [("", "Any"), ("no", "Not reviewed"), ("yes", "Reviewed")]


# Ids a request names: the tracker store's sender_id column is 255 characters; database row ids
# are 64-bit. Anything outside is refused with 400 before it reaches a query.
MAX_CONVERSATION_ID_CHARS = 255
MAX_ROW_ID = 2**63 - 1
# Dates a filter accepts: the clinic has no conversations outside these, and dates near the
# calendar's ends cannot be turned into times in every time zone.
EARLIEST_FILTER_DATE = date(2000, 1, 1)
LATEST_FILTER_DATE = date(2099, 12, 31)
DATE_RANGE_MESSAGE = "Enter a date between 2000 and 2099."


class InvalidInput(BadRequest):
    """A request the tool cannot act on: answered 400 with this plain message (views.bad_request)."""


def text_param(value: object, max_chars: int, what: str) -> str:
    """A free-text value from a request, as typed; 400 when no stored value could match it
    (too long, or a NUL character, which PostgreSQL cannot hold)."""
    text = value if isinstance(value, str) else ""
    if len(text) > max_chars:
        raise InvalidInput(f"{what} is at most {max_chars} characters.")
    if "\x00" in text:
        raise InvalidInput(f"{what} cannot contain a NUL character.")
    return text


def conversation_id_from(value: object) -> str:
    """A conversation id from a request: 404 when missing (no such conversation), 400 when no
    conversation could have it. Every printable character is allowed, as the channels allow."""
    conversation_id = text_param(value, MAX_CONVERSATION_ID_CHARS, "A conversation id")
    if not conversation_id:
        raise Http404("No such conversation.")
    return conversation_id


def row_id_from(value: int, what: str) -> int:
    """A database row id from a URL: 400 above what a 64-bit id can be."""
    if value > MAX_ROW_ID:
        raise InvalidInput(f"No {what} has a number that large.")
    return value


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, refusing for a while after repeated failures (signin.py: by name
    and address together, by address, and by name from everywhere)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed sign-ins. Wait 15 minutes and try again, or ask an administrator.",
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if signin.is_refused(self.request, username):
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            signin.record_failure(self.request, username)
            raise
        signin.record_success(self.request, username)
        return cleaned


class QueueFilterForm(forms.Form):
    q = forms.CharField(label="Search what patients wrote", required=False, max_length=200)
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        validators=[MinValueValidator(EARLIEST_FILTER_DATE, DATE_RANGE_MESSAGE),
                    MaxValueValidator(LATEST_FILTER_DATE, DATE_RANGE_MESSAGE)],
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        validators=[MinValueValidator(EARLIEST_FILTER_DATE, DATE_RANGE_MESSAGE),
                    MaxValueValidator(LATEST_FILTER_DATE, DATE_RANGE_MESSAGE)],
    )
    level = forms.ChoiceField(label="Triage level", required=False, choices=LEVEL_CHOICES)
    red_flag = forms.ChoiceField(label="Red flag", required=False, choices=FLAG_CHOICES)
    channel = forms.ChoiceField(label="Channel", required=False, choices=[("", "Any channel")])
    intent = forms.CharField(
        label="Intent", required=False, max_length=100, validators=[INTENT_NAME],
        widget=forms.TextInput(attrs={"list": "intent-names", "autocomplete": "off"}),
    )
    booking = forms.ChoiceField(label="Booking or call-back", required=False, choices=BOOKING_CHOICES)
    fallback = forms.BooleanField(label="Has fallback or low-confidence messages", required=False)
    reviewed = forms.ChoiceField(label="Reviewed", required=False, choices=REVIEWED_CHOICES)

    def __init__(self, *args, channels: list[str] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", "Any channel")] + [(c, c) for c in channels]

    def filter(self, queryset: QuerySet) -> QuerySet:
        """Apply the filters. A form with errors filters nothing: the views answer 400 for it."""
        if self.is_bound and not self.is_valid():
            return queryset.none()
        data = getattr(self, "cleaned_data", {})
        if data.get("q"):
            matching = ConversationText.objects.filter(text__contains=data["q"].strip().lower())
            queryset = queryset.filter(conversation_id__in=matching.values("conversation_id"))
        zone = timezone.get_current_timezone()
        if data.get("date_from"):
            queryset = queryset.filter(started_at__gte=datetime.combine(data["date_from"], time.min, zone))
        if data.get("date_to"):
            end = datetime.combine(data["date_to"] + timedelta(days=1), time.min, zone)
            queryset = queryset.filter(started_at__lt=end)
        if data.get("level"):
            queryset = queryset.filter(triage_level=data["level"])
        if data.get("red_flag"):
            queryset = queryset.filter(red_flags__contains=f",{data['red_flag']},")
        if data.get("channel"):
            queryset = queryset.filter(channel=data["channel"])
        if data.get("intent"):
            queryset = queryset.filter(intents__contains=f",{data['intent']},")
        booking = data.get("booking")
        if booking == "any":
            queryset = queryset.exclude(booking_kinds="")
        elif booking in ("booking", "callback"):
            queryset = queryset.filter(booking_kinds__contains=f",{booking},")
        elif booking == "none":
            queryset = queryset.filter(booking_kinds="")
        if data.get("fallback"):
            queryset = queryset.filter(
                Q(fallback_count__gt=0) | Q(min_confidence__lt=settings.LOW_CONFIDENCE)
            )
        if data.get("reviewed") == "yes":
            queryset = queryset.filter(reviewed=True)
        elif data.get("reviewed") == "no":
            queryset = queryset.filter(reviewed=False)
        return queryset


class TagForm(forms.Form):
    tag = forms.CharField(label="Tag", max_length=40, validators=[TAG_NAME])

    def clean_tag(self) -> str:
        return re.sub(r"\s+", " ", self.cleaned_data["tag"].strip().lower())


class NoteForm(forms.Form):
    text = forms.CharField(label="Note", max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class CorrectionForm(forms.Form):
    event_id = forms.IntegerField(min_value=1, max_value=MAX_ROW_ID, widget=forms.HiddenInput)
    intent = forms.CharField(
        label="Correct intent", max_length=100, validators=[INTENT_NAME],
        widget=forms.TextInput(attrs={"list": "intent-names", "autocomplete": "off"}),
    )

    def clean_intent(self) -> str:
        intent = self.cleaned_data["intent"].strip()
        if intent == "nlu_fallback":
            raise forms.ValidationError("Choose the intent the message should have had, not nlu_fallback.")
        return intent


class StaffCreateForm(UserCreationForm):
    role = forms.ChoiceField(choices=StaffMember.ROLES, initial=StaffMember.CLINICIAN)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)


class StaffEditForm(forms.Form):
    role = forms.ChoiceField(choices=StaffMember.ROLES)
    is_active = forms.BooleanField(label="Can sign in", required=False)


KNOWN_INTENTS = sorted(set(ALL_INTENTS))
