"""Sign-in events go to the audit log; SQLite gets settings that let readers work during writes."""
from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from .models import AuditEvent


@receiver(user_logged_in)
def _signed_in(sender, request, user, **kwargs) -> None:
    AuditEvent.objects.create(username=user.get_username(), action="sign_in")


@receiver(user_logged_out)
def _signed_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        AuditEvent.objects.create(username=user.get_username(), action="sign_out")


@receiver(user_login_failed)
def _sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))[:150]
    AuditEvent.objects.create(username=username, action="sign_in_failed")


@receiver(connection_created)
def _tune_sqlite(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite" and "memory" not in str(connection.settings_dict.get("NAME")):
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=10000")
