from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from translation.api import transcripts, views

app_name = "api"

urlpatterns = [
    path("translations", views.TranslationCollection.as_view(), name="translations"),
    # <str:...>, not <uuid:...>: a malformed id is the API's JSON 404, not Django's HTML one.
    path(
        "translations/<str:translation_id>",
        views.TranslationDetail.as_view(),
        name="translation-detail",
    ),
    path(
        "translations/<str:translation_id>/audio",
        views.TranslationAudio.as_view(),
        name="translation-audio",
    ),
    path(
        "translations/<str:translation_id>/input",
        views.TranslationInput.as_view(),
        name="translation-input",
    ),
    path(
        "translations/<str:translation_id>/transcript",
        transcripts.TranslationTranscript.as_view(),
        name="translation-transcript",
    ),
    path("sessions", transcripts.SessionCollection.as_view(), name="sessions"),
    path(
        "sessions/<str:session_id>/transcript",
        transcripts.SessionTranscript.as_view(),
        name="session-transcript",
    ),
    path(
        "calls/<str:call_id>/transcript",
        transcripts.CallTranscript.as_view(),
        name="call-transcript",
    ),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
