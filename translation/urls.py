from django.urls import path

from translation import views

urlpatterns = [
    path("", views.live_page, name="live"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "history/<uuid:translation_id>/<str:kind>.wav",
        views.history_audio,
        name="history-audio",
    ),
]
