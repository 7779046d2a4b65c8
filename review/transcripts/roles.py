"""Who may do what. Clinicians review; administrators also manage users and run bulk exports."""
from __future__ import annotations

from functools import wraps
from typing import Callable, Optional

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from .models import StaffMember


def role_of(user) -> Optional[str]:
    if not user.is_authenticated or not user.is_active:
        return None
    try:
        return user.staff.role
    except StaffMember.DoesNotExist:
        return None


def is_admin(user) -> bool:
    return role_of(user) == StaffMember.ADMIN


def require_role(*roles: str) -> Callable:
    """Signed-out visitors go to the sign-in page; a signed-in user without the role gets 403."""
    allowed = set(roles) or {StaffMember.CLINICIAN, StaffMember.ADMIN}

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(request: HttpRequest, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if role_of(request.user) not in allowed:
                raise PermissionDenied("Your account does not have access to this page.")
            return view(request, *args, **kwargs)

        return guarded

    return decorate


staff_required = require_role(StaffMember.CLINICIAN, StaffMember.ADMIN)
admin_required = require_role(StaffMember.ADMIN)


def role_context(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    role = role_of(user) if user is not None else None
    return {"staff_role": role, "staff_is_admin": role == StaffMember.ADMIN}
