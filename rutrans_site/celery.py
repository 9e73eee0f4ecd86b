"""The Celery app. Workers: `celery -A rutrans_site worker -Q gpu,captions --pool threads` (one
per GPU; never fork after CUDA is initialised; the threads feed one batcher thread,
`workers/batcher.py`). The worker process hooks live with the workers
(`workers/worker_process.py`)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rutrans_site.settings")

app = Celery("rutrans_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["workers"])
