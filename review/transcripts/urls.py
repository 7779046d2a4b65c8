from django.urls import path

from . import views

urlpatterns = [
    path("", views.queue, name="queue"),
    path("export/conversations.csv", views.export_queue_csv, name="export_csv"),
    path("conversation/", views.conversation, name="conversation"),
    path("conversation/pdf/", views.conversation_pdf, name="conversation_pdf"),
    path("conversation/review/", views.mark_reviewed, name="mark_reviewed"),
    path("conversation/tag/", views.tag_conversation, name="tag_conversation"),
    path("conversation/note/", views.add_note, name="add_note"),
    path("conversation/correct/", views.correct_intent, name="correct_intent"),
    path("corrections/", views.corrections, name="corrections"),
    path("corrections/export/", views.export_corrections, name="export_corrections"),
    path("bookings/", views.bookings, name="bookings"),
    path("bookings/handle/", views.handle_booking, name="handle_booking"),
    path("users/", views.users, name="users"),
    path("users/<int:user_id>/", views.user_edit, name="user_edit"),
    path("audit/", views.audit_log, name="audit_log"),
]
