from django.urls import include, path

from translation import views
from translation.history import views as history_views

urlpatterns = [
    path("", views.live_page, name="live"),
    path("call", views.call_page, name="call"),
    path("upload", views.upload_page, name="upload"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("history", history_views.history_page, name="history"),
    path(
        "history/sessions/<str:session_id>/delete",
        history_views.history_delete_session,
        name="history-delete-session",
    ),
    path(
        "history/calls/<str:call_id>/delete",
        history_views.history_delete_call,
        name="history-delete-call",
    ),
    path("api/", include("translation.api.urls")),
    path(
        "history/<uuid:translation_id>/<str:kind>.wav",
        history_views.history_audio,
        name="history-audio",
    ),
]
