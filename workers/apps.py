from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """The worker side (tasks, pipeline, engines) as a Django app: its management commands
    (`doctor`). Nothing here imports torch until a command runs."""

    name = "workers"
