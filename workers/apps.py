from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """The worker side (tasks, pipeline, engines) as a Django app: its management commands
    (`doctor`, `fetch_models`, `translate_file`), the Celery worker process hooks, and the task
    code the embedded worker thread runs. Nothing here imports torch until a task or command
    runs."""

    name = "workers"

    def ready(self) -> None:
        from workers import embedded, worker_process  # noqa: F401 - connects the hooks

        embedded.install()
