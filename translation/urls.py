from django.urls import include, path

from translation import views
from translation.history import views as history_views

urlpatterns = [
    path("", views.live_page, name="live"),
    path("upload", views.upload_page, name="upload"),
    path("healthz", views.healthz, name="healthz"),
    path("history", history_views.history_page, name="history"),
    path("api/", include("translation.api.urls")),
    path(
        "history/<uuid:translation_id>/<str:kind>.wav",
        history_views.history_audio,
        name="history-audio",
    ),
]
