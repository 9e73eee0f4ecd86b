"""ASGI entry point: HTTP to Django, WebSockets (origin-checked) to the Channels consumers."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rutrans_site.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs Django set up first
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from translation.backend import task_backend  # noqa: E402
from translation.jobs.sweeper import start_stale_sweeper  # noqa: E402
from translation.routing import websocket_urlpatterns  # noqa: E402
from workers import runtime  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

if settings.PRELOAD_MODELS:
    # A web process that runs the tasks itself (embedded) loads the models in the background
    # now, so the first utterance does not wait for them; workers load on `worker_ready`.
    task_backend().warm_up(runtime.preload)
# Stuck translations are failed by the workers' sweepers; the web process sweeps as well, so
# they are failed even with no worker left (embedded: the only one there is).
start_stale_sweeper(executor=task_backend().serial_executor())
