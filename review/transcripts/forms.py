"""Forms: every value from a request is validated here before it reaches a query."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, time, timedelta

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.cache import cache
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet
from django.utils import timezone

from bot.contract import ALL_INTENTS, RED_FLAG_CODES, TRIAGE_LEVELS

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


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, refusing a user name after repeated failures for a while."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed sign-ins. Wait 15 minutes and try again, or ask an administrator.",
    }

    @staticmethod
    def _failure_key(username: str) -> str:
        return "sign-in-failures:" + hashlib.sha256(username.strip().lower().encode()).hexdigest()

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        key = self._failure_key(username)
        if cache.get(key, 0) >= settings.LOGIN_FAILURE_LIMIT:
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            cache.set(key, cache.get(key, 0) + 1, settings.LOGIN_FAILURE_WINDOW)
            raise
        cache.delete(key)
        return cleaned


class QueueFilterForm(forms.Form):
    q = forms.CharField(label="Search what patients wrote", required=False, max_length=200)
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
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
        """Apply every valid filter; an invalid one is shown as an error and ignored."""
        self.is_valid()
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
    event_id = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
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
