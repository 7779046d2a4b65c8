"""Who can do what: signed-out visitors, users without a role, clinicians and administrators."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from review_fixtures import PASSWORD

from transcripts.models import AuditEvent, Note, StaffMember

STAFF_PAGES = ["/", "/conversation/?id=conv-stairs", "/conversation/pdf/?id=conv-stairs", "/bookings/"]
ADMIN_PAGES = ["/export/conversations.csv", "/corrections/", "/users/", "/audit/"]
STAFF_POSTS = [
    ("/conversation/review/", {"conversation_id": "conv-stairs"}),
    ("/conversation/note/", {"conversation_id": "conv-stairs", "text": "x"}),
    ("/conversation/tag/", {"conversation_id": "conv-stairs", "tag": "x"}),
    ("/conversation/correct/", {"conversation_id": "conv-stairs", "event_id": 1, "intent": "greet"}),
    ("/bookings/handle/", {"request_id": "x"}),
]
ADMIN_POSTS = [("/corrections/export/", {}), ("/users/", {"username": "mallory", "role": "admin"})]


@pytest.mark.parametrize("url", STAFF_PAGES + ADMIN_PAGES)
def test_signed_out_visitors_are_sent_to_sign_in(clinic, url):
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("url, data", STAFF_POSTS + ADMIN_POSTS)
def test_signed_out_posts_change_nothing(clinic, url, data):
    response = Client().post(url, data)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not Note.objects.exists() and not get_user_model().objects.filter(username="mallory").exists()


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_clinicians_cannot_open_admin_pages(clinic, clinician, client_for, url):
    response = client_for(clinician).get(url)
    assert response.status_code == 403
    assert "ask a clinic administrator" in response.content.decode()


@pytest.mark.parametrize("url, data", ADMIN_POSTS)
def test_clinicians_cannot_post_admin_actions(clinic, clinician, client_for, url, data):
    assert client_for(clinician).post(url, data).status_code == 403
    assert not get_user_model().objects.filter(username="mallory").exists()
    assert not AuditEvent.objects.filter(action="export_nlu").exists()


@pytest.mark.parametrize("url", STAFF_PAGES + ADMIN_PAGES)
def test_admins_can_open_everything(clinic, admin, client_for, url):
    assert client_for(admin).get(url).status_code == 200


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_accounts_without_a_role_or_disabled_are_refused(clinic, client_for, url):
    no_role = get_user_model().objects.create_user("norole", password=PASSWORD)
    assert client_for(no_role).get(url).status_code == 403
    disabled = get_user_model().objects.create_user("gone", password=PASSWORD)
    StaffMember.objects.create(user=disabled, role="admin")
    disabled.is_active = False
    disabled.save()
    assert Client().login(username="gone", password=PASSWORD) is False


def test_sign_in_with_password_and_csrf(clinic, clinician):
    client = Client(enforce_csrf_checks=True)
    form = client.get("/login/")
    token = form.cookies["csrftoken"].value
    assert client.post("/login/", {"username": "casey", "password": PASSWORD}).status_code == 403  # no token
    response = client.post("/login/", {"username": "casey", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    stored = get_user_model().objects.get(username="casey").password
    assert PASSWORD not in stored and "$" in stored  # hashed, never stored as typed
    assert AuditEvent.objects.filter(username="casey", action="sign_in").exists()


def test_repeated_failed_sign_ins_lock_the_name_for_a_while(clinic, clinician):
    client = Client()
    for _ in range(5):
        client.post("/login/", {"username": "casey", "password": "wrong password"})
    response = client.post("/login/", {"username": "casey", "password": PASSWORD})
    assert response.status_code == 200 and "Too many failed sign-ins" in response.content.decode()
    assert AuditEvent.objects.filter(username="casey", action="sign_in_failed").count() == 5


def test_admin_creates_and_disables_accounts(clinic, admin, client_for):
    client = client_for(admin)
    response = client.post("/users/", {"username": "robin", "role": "clinician",
                                       "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    robin = get_user_model().objects.get(username="robin")
    assert robin.staff.role == "clinician" and robin.check_password(PASSWORD)
    client.post(f"/users/{robin.pk}/", {"form": "edit", "role": "clinician"})  # is_active unticked
    robin.refresh_from_db()
    assert not robin.is_active
    # Weak passwords are refused; an admin cannot lock themselves out.
    client.post("/users/", {"username": "weak", "role": "admin", "password1": "password", "password2": "password"})
    assert not get_user_model().objects.filter(username="weak").exists()
    client.post(f"/users/{admin.pk}/", {"form": "edit", "role": "clinician", "is_active": "on"})
    admin.refresh_from_db()
    assert StaffMember.objects.get(user=admin).role == "admin"
