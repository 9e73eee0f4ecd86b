"""The Django project. The Celery app is loaded with it, so that `shared_task` and the web
tier's `celery.current_app.send_task` use this project's app and broker."""

from rutrans_site.celery import app as celery_app

__all__ = ("celery_app",)
