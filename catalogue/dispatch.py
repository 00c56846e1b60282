"""Celery tasks sent by name, so that a service never imports the tasks module that calls it
(catalogue/tasks.py imports the services; catalogue/apps.py imports it at start, which registers
the tasks)."""

from celery import current_app


def task_send(name: str, *args) -> None:
    """Queue the task (run it at once when tasks are eager, the embedded default)."""
    current_app.tasks[name].apply_async(args)
