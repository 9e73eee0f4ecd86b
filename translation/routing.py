from django.urls import path

from translation.consumers import JobStatusConsumer, TranslateConsumer

websocket_urlpatterns = [
    path("ws/translate", TranslateConsumer.as_asgi()),
    path("ws/jobs/<uuid:job_id>", JobStatusConsumer.as_asgi()),
]
