"""Tasks: one file per kind of problem, each with its configs, flags, data, model, loss,
evaluation and ``predict`` (:mod:`rnnkit.tasks.base`); ``TASKS`` is the registry and ``load``
rebuilds any trained run."""

from rnnkit.tasks.base import Task
from rnnkit.tasks.loading import load
from rnnkit.tasks.registry import TASKS, task_named

__all__ = ["Task", "TASKS", "load", "task_named"]
