"""The review tool's own data: staff, reviews, tags, notes, intent corrections, the audit log, and
an index of conversations kept in step with Rasa's tracker store.

Staff data is keyed by the conversation id (Rasa's sender id), not by a foreign key to the
index, so rebuilding the index from the tracker store never loses a note or a review.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models


class StaffMember(models.Model):
    """A user's role in the clinic. A user without one can sign in to nothing."""

    CLINICIAN = "clinician"
    ADMIN = "admin"
    ROLES = [(CLINICIAN, "Clinician"), (ADMIN, "Administrator")]

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff")
    role = models.CharField(max_length=20, choices=ROLES, default=CLINICIAN)

    def __str__(self) -> str:
        return f"{self.user.username} ({self.role})"


class ConversationSummary(models.Model):
    """One row a conversation, derived only from the tracker store's events (and the booking
    table's flags), so the queue can filter and sort 100,000 conversations without reading events.

    List-valued fields are stored as ",a,b," so one `contains` lookup matches a whole code.
    """

    conversation_id = models.CharField(max_length=255, unique=True)
    first_event_id = models.BigIntegerField()
    last_event_id = models.BigIntegerField()
    started_at = models.DateTimeField(null=True)
    last_event_at = models.DateTimeField(null=True)
    channel = models.CharField(max_length=64, blank=True, default="")
    user_message_count = models.IntegerField(default=0)
    bot_message_count = models.IntegerField(default=0)
    first_message = models.CharField(max_length=200, blank=True, default="")
    first_message_event_id = models.BigIntegerField(null=True)
    # The most urgent level the conversation reached, so a later change never hides an escalation.
    triage_level = models.CharField(max_length=32, blank=True, default="")
    level_rank = models.SmallIntegerField(default=-1)
    red_flags = models.CharField(max_length=400, blank=True, default="")
    intents = models.TextField(blank=True, default="")
    min_confidence = models.FloatField(null=True)
    fallback_count = models.IntegerField(default=0)
    staff_review_needed = models.BooleanField(default=False)
    booking_kinds = models.CharField(max_length=40, blank=True, default="")
    booking_status = models.CharField(max_length=20, blank=True, default="")
    # Urgent: consultation_24 or above, a red flag, or the bot asked for staff review.
    urgent = models.BooleanField(default=False)
    reviewed = models.BooleanField(default=False)
    reviewed_at = models.DateTimeField(null=True)
    reviewed_by = models.CharField(max_length=150, blank=True, default="")
    # Set when a reviewed conversation later escalates; it then needs a second look.
    reopened = models.BooleanField(default=False)
    # 1 for urgent and not yet reviewed: these head the queue.
    priority = models.SmallIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["-priority", "-last_event_at", "-id"], name="queue_order"),
            models.Index(fields=["started_at"], name="summary_started"),
            models.Index(fields=["level_rank"], name="summary_level"),
            models.Index(fields=["channel"], name="summary_channel"),
        ]

    def red_flag_list(self) -> list[str]:
        return [code for code in self.red_flags.split(",") if code]

    def booking_kind_list(self) -> list[str]:
        return [kind for kind in self.booking_kinds.split(",") if kind]


class ConversationText(models.Model):
    """What patients wrote in one conversation, lower-cased, for the queue's search box.

    Kept apart from ConversationSummary so the queue's filters scan narrow rows."""

    conversation_id = models.CharField(max_length=255, unique=True)
    text = models.TextField(blank=True, default="")


class SyncState(models.Model):
    """How far the index has read the tracker store's `events` table (a single row)."""

    last_event_id = models.BigIntegerField(default=0)
    # Ids below last_event_id not yet seen: [[first, last, seen_at_unix], ...]. PostgreSQL can
    # commit a lower id after a higher one is visible; these are re-read until they expire.
    gaps = models.JSONField(default=list)
    synced_at = models.DateTimeField(null=True)


class ReviewEvent(models.Model):
    """Each time someone marks a conversation reviewed or not reviewed (the history)."""

    conversation_id = models.CharField(max_length=255, db_index=True)
    reviewed = models.BooleanField()
    by = models.CharField(max_length=150)
    at = models.DateTimeField(auto_now_add=True)


class Tag(models.Model):
    name = models.CharField(max_length=40, unique=True)

    def __str__(self) -> str:
        return self.name


class ConversationTag(models.Model):
    conversation_id = models.CharField(max_length=255, db_index=True)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
    added_by = models.CharField(max_length=150)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation_id", "tag"], name="one_tag_per_conversation")
        ]


class Note(models.Model):
    conversation_id = models.CharField(max_length=255, db_index=True)
    author = models.CharField(max_length=150)
    text = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class IntentCorrection(models.Model):
    """A staff member's correction of the intent the bot gave one message (a tracker event)."""

    conversation_id = models.CharField(max_length=255, db_index=True)
    event_id = models.BigIntegerField(unique=True)
    text = models.TextField()
    original_intent = models.CharField(max_length=255, blank=True, default="")
    original_confidence = models.FloatField(null=True)
    corrected_intent = models.CharField(max_length=255)
    corrected_by = models.CharField(max_length=150)
    corrected_at = models.DateTimeField(auto_now=True)
    exported_at = models.DateTimeField(null=True)


class AuditEvent(models.Model):
    """Who did what to which conversation. Holds ids and action names, never patient text."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    username = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=40)
    conversation_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    detail = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]


class SignInFailure(models.Model):
    """One failed sign-in (transcripts/signin.py): keyed hashes of the user name and the client
    address, never either as typed. Rows older than the throttling window are deleted."""

    name = models.CharField(max_length=40)
    address = models.CharField(max_length=40)
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["name", "at"], name="signin_failure_name"),
            models.Index(fields=["address", "at"], name="signin_failure_address"),
        ]
