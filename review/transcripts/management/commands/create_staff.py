"""Create a staff account: `manage.py create_staff --username alex --role admin`.

The password is asked for twice, or read from the environment variable named by
--password-env (default REVIEW_STAFF_PASSWORD) when that is set, for scripts.
"""
from __future__ import annotations

import getpass
import os

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from transcripts.models import AuditEvent, StaffMember


class Command(BaseCommand):
    help = "Create a staff account for the transcript review tool."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", choices=[r for r, _ in StaffMember.ROLES], default=StaffMember.CLINICIAN)
        parser.add_argument("--password-env", default="REVIEW_STAFF_PASSWORD",
                            help="environment variable holding the password (default REVIEW_STAFF_PASSWORD)")

    def handle(self, *args, username: str, role: str, password_env: str, **options) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"An account named {username!r} already exists.")
        password = os.environ.get(password_env)
        if not password:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ. Nothing was created.")
        user = User(username=username)
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError("Password not accepted: " + " ".join(error.messages))
        with transaction.atomic():
            user.set_password(password)
            user.save()
            StaffMember.objects.create(user=user, role=role)
            AuditEvent.objects.create(action="user_created", detail=f"{username} as {role} (command line)")
        self.stdout.write(f"Created {role} account {username}.")
