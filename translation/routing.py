from django.urls import path

from translation.jobs.consumer import JobStatusConsumer
from translation.streaming.consumer import TranslateConsumer

websocket_urlpatterns = [
    path("ws/translate", TranslateConsumer.as_asgi()),
    path("ws/jobs/<uuid:job_id>", JobStatusConsumer.as_asgi()),
]
