"""Pages and actions of the review tool. Every view is behind a role check (roles.py)."""
from __future__ import annotations

from datetime import datetime, timezone as dt_timezone
from typing import Optional
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import audit, signin
from .conversation import build_turns, triage_record
from .exports import csv_rows, nlu_yaml, transcript_pdf
from .forms import (
    KNOWN_INTENTS, CorrectionForm, InvalidInput, NoteForm, QueueFilterForm, StaffCreateForm, StaffEditForm,
    TagForm, ThrottledAuthenticationForm, conversation_id_from, row_id_from, text_param,
)
from .models import (
    AuditEvent, ConversationSummary, ConversationTag, IntentCorrection, Note, ReviewEvent, StaffMember, Tag,
)
from .roles import admin_required, staff_required
from .stores import BOOKING_KINDS, BOOKING_STATUSES, BookingStore, TrackerReader, most_pressing_status
from .sync import PRIORITY, sync_index


def _conversation_url(conversation_id: str, anchor: str = "") -> str:
    url = reverse("conversation") + "?" + urlencode({"id": conversation_id})
    return url + (f"#{anchor}" if anchor else "")


def _channels() -> list[str]:
    channels = cache.get("review-channels")
    if channels is None:
        channels = sorted(
            c for c in ConversationSummary.objects.order_by().values_list("channel", flat=True).distinct() if c
        )
        cache.set("review-channels", channels, 60)
    return channels


def _aware(moment: Optional[datetime]) -> Optional[datetime]:
    """Booking times come back naive (UTC) from SQLite."""
    if moment is None or not isinstance(moment, datetime):
        return moment
    return moment if moment.tzinfo else moment.replace(tzinfo=dt_timezone.utc)


def _booking_view(row: dict) -> dict:
    shown = dict(row)
    for key in ("created_at", "updated_at", "next_attempt_at", "delivered_at", "handled_at"):
        shown[key] = _aware(row.get(key))
    return shown


# ---------------------------------------------------------------------------------------------
# Queue

@require_GET
@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    sync = sync_index(max_events=settings.SYNC_EVENTS_PER_REQUEST)
    form = QueueFilterForm(request.GET or None, channels=_channels())
    # Filters that were not understood show no list at all (400): a list with one filter
    # dropped would look like an answer to the question asked.
    invalid = form.is_bound and not form.is_valid()
    conversations = form.filter(ConversationSummary.objects.all()).order_by("-priority", "-last_event_at", "-id")
    if getattr(form, "cleaned_data", {}).get("q"):
        # A text search scans every conversation's text: do it once, in queue order, and page
        # through the matching ids, rather than once for the count and again for the page.
        page = Paginator(list(conversations.values_list("id", flat=True)), settings.QUEUE_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        found = ConversationSummary.objects.defer("intents").in_bulk(list(page.object_list))
        shown = [found[pk] for pk in page.object_list if pk in found]
    else:
        page = Paginator(conversations.defer("intents"), settings.QUEUE_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        shown = list(page.object_list)
    tags: dict[str, list[str]] = {}
    for conversation_id, name in ConversationTag.objects.filter(
        conversation_id__in=[c.conversation_id for c in shown]
    ).values_list("conversation_id", "tag__name"):
        tags.setdefault(conversation_id, []).append(name)
    rows = [(c, sorted(tags.get(c.conversation_id, []))) for c in shown]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "review/queue.html", {
        "form": form, "page": page, "rows": rows, "sync": sync, "query": query.urlencode(),
        "intent_names": KNOWN_INTENTS, "low_confidence": settings.LOW_CONFIDENCE, "invalid": invalid,
    }, status=400 if invalid else 200)


@require_GET
@admin_required
def export_queue_csv(request: HttpRequest) -> StreamingHttpResponse:
    sync_index(max_events=settings.SYNC_EVENTS_PER_REQUEST)
    form = QueueFilterForm(request.GET or None, channels=_channels())
    if form.is_bound and not form.is_valid():
        raise InvalidInput("Some filters were not understood, so nothing was exported. "
                           "Go back to the queue, fix the filters and download again.")
    conversations = form.filter(ConversationSummary.objects.all()).order_by("-priority", "-last_event_at", "-id")
    exported_ids = list(conversations.values_list("conversation_id", flat=True))
    audit.record_many(request.user, "export_csv", exported_ids)
    tags: dict[str, list[str]] = {}
    for conversation_id, name in ConversationTag.objects.values_list("conversation_id", "tag__name"):
        tags.setdefault(conversation_id, []).append(name)
    zone = timezone.get_current_timezone()

    def local(moment: Optional[datetime]) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else ""

    header = [
        "conversation_id", "started", "last_activity", "channel", "triage_level", "red_flags", "intents",
        "patient_messages", "fallbacks", "lowest_confidence", "booking_or_callback", "booking_status",
        "staff_review_needed", "reviewed", "reviewed_by", "tags", "first_message",
    ]
    fields = [
        "conversation_id", "started_at", "last_event_at", "channel", "triage_level", "red_flags", "intents",
        "user_message_count", "fallback_count", "min_confidence", "booking_kinds", "booking_status",
        "staff_review_needed", "reviewed", "reviewed_by", "first_message",
    ]

    def rows():
        for c in conversations.values(*fields).iterator(chunk_size=2000):
            yield [
                c["conversation_id"], local(c["started_at"]), local(c["last_event_at"]), c["channel"],
                c["triage_level"], c["red_flags"].strip(","), c["intents"].strip(","), c["user_message_count"],
                c["fallback_count"], c["min_confidence"], c["booking_kinds"].strip(","), c["booking_status"],
                c["staff_review_needed"], c["reviewed"], c["reviewed_by"],
                ", ".join(sorted(tags.get(c["conversation_id"], []))), c["first_message"],
            ]

    response = StreamingHttpResponse(csv_rows(header, rows()), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="conversations-{stamp}.csv"'
    return response


# ---------------------------------------------------------------------------------------------
# One conversation

def _conversation_id(request: HttpRequest) -> str:
    return conversation_id_from(
        request.GET.get("id") if request.method == "GET" else request.POST.get("conversation_id")
    )


def _events_or_404(conversation_id: str) -> list:
    events = TrackerReader().conversation_events(conversation_id)
    if not events:
        raise Http404("No such conversation.")
    return events


@require_GET
@staff_required
def conversation(request: HttpRequest) -> HttpResponse:
    conversation_id = _conversation_id(request)
    events = _events_or_404(conversation_id)
    audit.record(request.user, "view", conversation_id)
    summary = ConversationSummary.objects.filter(conversation_id=conversation_id).first()
    bookings = [_booking_view(row) for row in BookingStore().for_conversation(conversation_id)]
    corrections = {c.event_id: c for c in IntentCorrection.objects.filter(conversation_id=conversation_id)}
    turns = build_turns(events)
    for turn in turns:
        if turn.user is not None:
            turn.user.correction = corrections.get(turn.user.event_id)
    return render(request, "review/conversation.html", {
        "conversation_id": conversation_id,
        "record": triage_record(events),
        "turns": turns,
        "summary": summary,
        "bookings": bookings,
        "booking_status": most_pressing_status({b.get("status") for b in bookings}),
        "tags": ConversationTag.objects.filter(conversation_id=conversation_id).select_related("tag").order_by("tag__name"),
        "notes": Note.objects.filter(conversation_id=conversation_id),
        "reviews": ReviewEvent.objects.filter(conversation_id=conversation_id).order_by("-at", "-id")[:10],
        "tag_form": TagForm(),
        "note_form": NoteForm(),
        "intent_names": KNOWN_INTENTS,
        "low_confidence": settings.LOW_CONFIDENCE,
        "started_at": next((t.at for t in turns if t.at), None),
        "reply_to": next((t.user.reply_to for t in reversed(turns) if t.user and t.user.reply_to), ""),
    })


@require_POST
@staff_required
def mark_reviewed(request: HttpRequest) -> HttpResponse:
    conversation_id = _conversation_id(request)
    _events_or_404(conversation_id)
    reviewed = request.POST.get("reviewed") != "0"
    sync_index(max_events=settings.SYNC_EVENTS_PER_REQUEST)
    username = request.user.get_username()
    with transaction.atomic():
        ReviewEvent.objects.create(conversation_id=conversation_id, reviewed=reviewed, by=username)
        ConversationSummary.objects.filter(conversation_id=conversation_id).update(
            reviewed=reviewed,
            reviewed_at=timezone.now() if reviewed else None,
            reviewed_by=username if reviewed else "",
            reopened=False,
        )
        ConversationSummary.objects.filter(conversation_id=conversation_id).update(priority=PRIORITY)
        audit.record(request.user, "mark_reviewed" if reviewed else "mark_not_reviewed", conversation_id)
    messages.success(request, "Marked as reviewed." if reviewed else "Marked as not reviewed.")
    if reviewed and request.POST.get("next") == "queue":
        return redirect("queue")
    return redirect(_conversation_url(conversation_id))


@require_POST
@staff_required
def tag_conversation(request: HttpRequest) -> HttpResponse:
    conversation_id = _conversation_id(request)
    _events_or_404(conversation_id)
    form = TagForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("tag", ["Enter a tag."])))
        return redirect(_conversation_url(conversation_id, "staff"))
    name = form.cleaned_data["tag"]
    if request.POST.get("remove") == "1":
        ConversationTag.objects.filter(conversation_id=conversation_id, tag__name=name).delete()
        audit.record(request.user, "untag", conversation_id, name)
    else:
        tag, _ = Tag.objects.get_or_create(name=name)
        ConversationTag.objects.get_or_create(
            conversation_id=conversation_id, tag=tag, defaults={"added_by": request.user.get_username()}
        )
        audit.record(request.user, "tag", conversation_id, name)
    return redirect(_conversation_url(conversation_id, "staff"))


@require_POST
@staff_required
def add_note(request: HttpRequest) -> HttpResponse:
    conversation_id = _conversation_id(request)
    _events_or_404(conversation_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        Note.objects.create(conversation_id=conversation_id, author=request.user.get_username(),
                            text=form.cleaned_data["text"])
        audit.record(request.user, "note", conversation_id)
        messages.success(request, "Note added.")
    else:
        messages.error(request, "Write a note of up to 4,000 characters.")
    return redirect(_conversation_url(conversation_id, "staff"))


@require_POST
@staff_required
def correct_intent(request: HttpRequest) -> HttpResponse:
    conversation_id = _conversation_id(request)
    events = _events_or_404(conversation_id)
    form = CorrectionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(_conversation_url(conversation_id))
    event_id = form.cleaned_data["event_id"]
    # The text comes from the tracker store, never from the form: a correction is always about
    # a message this conversation really has.
    event = next((e for e in events if e.id == event_id and e.type_name == "user"), None)
    if event is None:
        raise Http404("No such message in this conversation.")
    payload = event.payload()
    parse_data = payload.get("parse_data") or {}
    IntentCorrection.objects.update_or_create(
        event_id=event_id,
        defaults={
            "conversation_id": conversation_id,
            "text": str(payload.get("text") or ""),
            "original_intent": event.intent_name or "",
            "original_confidence": (parse_data.get("intent") or {}).get("confidence"),
            "corrected_intent": form.cleaned_data["intent"],
            "corrected_by": request.user.get_username(),
            "exported_at": None,
        },
    )
    audit.record(request.user, "correct_intent", conversation_id, f"event {event_id}")
    messages.success(request, f"Intent corrected to {form.cleaned_data['intent']}.")
    return redirect(_conversation_url(conversation_id, f"message-{event_id}"))


@require_GET
@staff_required
def conversation_pdf(request: HttpRequest) -> HttpResponse:
    conversation_id = _conversation_id(request)
    events = _events_or_404(conversation_id)
    bookings = BookingStore().for_conversation(conversation_id)
    statuses = [f"{b.get('kind')}: {b.get('status')}" for b in bookings]
    audit.record(request.user, "export_pdf", conversation_id)
    body = transcript_pdf(
        conversation_id, triage_record(events), build_turns(events), statuses,
        request.user.get_username(), timezone.now(), timezone.localtime,
    )
    response = HttpResponse(body, content_type="application/pdf")
    safe_name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in conversation_id)[:60]
    response["Content-Disposition"] = f'attachment; filename="transcript-{safe_name}.pdf"'
    return response


# ---------------------------------------------------------------------------------------------
# Intent corrections

@require_GET
@admin_required
def corrections(request: HttpRequest) -> HttpResponse:
    page = Paginator(IntentCorrection.objects.order_by("-corrected_at", "-id"), 50).get_page(request.GET.get("page"))
    return render(request, "review/corrections.html", {
        "page": page, "new_count": IntentCorrection.objects.filter(exported_at__isnull=True).count(),
    })


@require_POST
@admin_required
def export_corrections(request: HttpRequest) -> HttpResponse:
    selected = IntentCorrection.objects.order_by("corrected_at", "id")
    if request.POST.get("only_new") == "1":
        selected = selected.filter(exported_at__isnull=True)
    chosen = list(selected)
    body = nlu_yaml((c.text, c.corrected_intent) for c in chosen)
    IntentCorrection.objects.filter(pk__in=[c.pk for c in chosen]).update(exported_at=timezone.now())
    audit.record_many(request.user, "export_nlu", sorted({c.conversation_id for c in chosen}))
    response = HttpResponse(body, content_type="application/x-yaml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="nlu_corrections.yml"'
    return response


# ---------------------------------------------------------------------------------------------
# Booking and call-back requests

@require_GET
@staff_required
def bookings(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    status = status if status in BOOKING_STATUSES or status in ("open", "all") else "open"
    kind = request.GET.get("kind", "")
    kind = kind if kind in BOOKING_KINDS else ""
    store = BookingStore()
    paginator = Paginator(range(store.count(status, kind)), 50)
    page = paginator.get_page(request.GET.get("page"))
    rows = [_booking_view(r) for r in store.requests(status, kind, limit=50, offset=page.start_index() - 1 if page.object_list else 0)]
    audit.record(request.user, "view_bookings", "", f"{len(rows)} requests")
    return render(request, "review/bookings.html", {
        "rows": rows, "page": page, "status": status, "kind": kind,
        "statuses": ("open", "all") + BOOKING_STATUSES, "kinds": BOOKING_KINDS,
        "table_missing": store.table is None,
    })


@require_POST
@staff_required
def handle_booking(request: HttpRequest) -> HttpResponse:
    request_id = text_param(request.POST.get("request_id"), 64, "A request id")
    store = BookingStore()
    row = store.get(request_id) if request_id else None
    if row is None:
        raise Http404("No such request.")
    if store.mark_handled(request_id, request.user.get_username(), timezone.now()):
        audit.record(request.user, "booking_handled", row.get("conversation_id") or "", f"request {request_id}")
        messages.success(request, "Request marked as handled.")
    else:
        messages.info(request, "That request was already handled.")
    back = request.POST.get("next")
    if back == "conversation" and row.get("conversation_id"):
        return redirect(_conversation_url(row["conversation_id"], "bookings"))
    return redirect("bookings")


# ---------------------------------------------------------------------------------------------
# Users and the audit log (administrators)

@admin_required
def users(request: HttpRequest) -> HttpResponse:
    form = StaffCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            StaffMember.objects.create(user=user, role=form.cleaned_data["role"])
        audit.record(request.user, "user_created", detail=f"{user.username} as {form.cleaned_data['role']}")
        messages.success(request, f"Account {user.username} created.")
        return redirect("users")
    people = get_user_model().objects.select_related("staff").order_by("username")
    return render(request, "review/users.html", {"form": form, "people": people})


@admin_required
def user_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(get_user_model(), pk=row_id_from(user_id, "account"))
    staff, _ = StaffMember.objects.get_or_create(user=person)
    edit_form = StaffEditForm(
        request.POST if request.POST.get("form") == "edit" else None,
        initial={"role": staff.role, "is_active": person.is_active},
    )
    password_form = SetPasswordForm(person, request.POST if request.POST.get("form") == "password" else None)
    if request.method == "POST":
        if request.POST.get("form") == "edit" and edit_form.is_valid():
            role, active = edit_form.cleaned_data["role"], edit_form.cleaned_data["is_active"]
            if person == request.user and (role != StaffMember.ADMIN or not active):
                messages.error(request, "You cannot remove your own administrator access.")
            else:
                staff.role, person.is_active = role, active
                staff.save()
                person.save(update_fields=["is_active"])
                audit.record(request.user, "user_changed", detail=f"{person.username}: {role}, active={active}")
                messages.success(request, f"Account {person.username} updated.")
                return redirect("users")
        elif request.POST.get("form") == "password" and password_form.is_valid():
            password_form.save()
            audit.record(request.user, "password_set", detail=person.username)
            messages.success(request, f"New password set for {person.username}.")
            return redirect("users")
    return render(request, "review/user_edit.html", {
        "person": person, "staff": staff, "edit_form": edit_form, "password_form": password_form,
    })


@require_GET
@admin_required
def audit_log(request: HttpRequest) -> HttpResponse:
    entries = AuditEvent.objects.all()
    username = text_param(request.GET.get("user"), 150, "A user name")
    conversation_id = text_param(request.GET.get("conversation"), 255, "A conversation id")
    if username:
        entries = entries.filter(username=username)
    if conversation_id:
        entries = entries.filter(conversation_id=conversation_id)
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "review/audit.html", {
        "page": page, "username": username, "conversation": conversation_id, "query": query.urlencode(),
    })


# ---------------------------------------------------------------------------------------------
# Signing in and out, and plain answers to requests the tool cannot act on

class SignInView(auth_views.LoginView):
    """Django's sign-in page with the throttled form; a browser that signs in is remembered for
    that name (signin.py: the name-wide limit never holds it)."""

    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        signin.remember_browser(self.request, response, form.get_user().get_username())
        return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def sign_out(request: HttpRequest) -> HttpResponse:
    """Signing out is a POST (CSRF-checked), so a link or an image on another page cannot sign
    anyone out; GET shows the button."""
    if request.method == "POST":
        logout(request)
        return redirect(settings.LOGOUT_REDIRECT_URL)
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    return render(request, "registration/sign_out.html")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 with a plain message: ours (InvalidInput) as written, anything else in general words."""
    message = str(exception) if isinstance(exception, InvalidInput) else (
        "The request could not be understood. Go back to the queue and try again."
    )
    return render(request, "400.html", {"message": message}, status=400)
