"""Every task rnnkit knows, by the name its runs save in ``config.json`` (one line each)."""

from __future__ import annotations

from rnnkit.errors import RnnkitError
from rnnkit.tasks.base import Task
from rnnkit.tasks.classify import ClassifyTask
from rnnkit.tasks.condgen import CondGenTask
from rnnkit.tasks.forecast import ForecastTask
from rnnkit.tasks.lm import LanguageModelTask
from rnnkit.tasks.seq2seq import Seq2SeqTask
from rnnkit.tasks.tag import TagTask

TASKS: dict[str, Task] = {task.name: task for task in (
    LanguageModelTask(),
    ClassifyTask(),
    TagTask(),
    Seq2SeqTask(),
    CondGenTask(),
    ForecastTask(),
)}


def task_named(name: object, where: object = "this run") -> Task:
    """The task called ``name``, or one line saying that this version does not know it."""
    task = TASKS.get(name) if isinstance(name, str) else None
    if task is None:
        raise RnnkitError(f"{where} is a {name!r} run, which this version of rnnkit does not "
                          f"know (it knows {', '.join(TASKS)})")
    return task
