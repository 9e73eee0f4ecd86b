from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """The worker side (tasks, pipeline, engines) as a Django app: its management commands
    (`doctor`, `fetch_models`, `translate_file`), the Celery worker process hooks, and the task
    bodies, registered once with the task backend. Nothing here imports torch until a task or
    command runs."""

    name = "workers"

    def ready(self) -> None:
        from translation.backend import register_tasks
        from workers import tasks, worker_process  # noqa: F401 - connects the hooks

        register_tasks(tasks.BODIES)
