from django.conf import settings
from django.urls import include, path, re_path
from django.views.static import serve

from transcripts import views

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    # POST signs out; GET only shows the button (a link elsewhere cannot sign anyone out).
    path("logout/", views.sign_out, name="logout"),
    # The tool's few CSS files are served by Django itself, always (no CDN, no separate server).
    re_path(r"^static/(?P<path>.*)$", serve, {"document_root": settings.STATIC_DIR}),
    path("", include("transcripts.urls")),
]

handler400 = "transcripts.views.bad_request"
