"""Unlabelled names to pretrain the names classifier's character language model on.

Every first and last name that Faker's person providers define, over all of its locales
(about 80,000 strings), read as files with :mod:`ast` like :mod:`rnnkit.data.datasets.faker_names`.
The names that builtin:names holds out (its test part and its classifier's validation cut) are
removed, so the language model never reads a name the classifier is scored on; what remains is
the training names and names the classification data set does not use (last names, other
locales, names shared by two locales), kept where every character is one the training names
use (the classifier's locales are Latin-script).
"""

from __future__ import annotations

import ast
from pathlib import Path

from rnnkit.data.datasets.packages import package_dir
from rnnkit.data.datasets.registry import FAKER
from rnnkit.train.task_data import TaskDataConfig, read_task_dataset, validation_cut


def provider_names(provider_file: Path) -> set[str]:
    """Every string assigned to a ``first_names*`` or ``last_names*`` name in the file."""
    tree = ast.parse(provider_file.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign):
            continue
        targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if not any(t.startswith(("first_names", "last_names")) for t in targets):
            continue
        for leaf in ast.walk(node.value):
            if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str) and leaf.value:
                names.add(leaf.value.strip())
    return {n for n in names if n and "\n" not in n}


def write_name_corpus(path: Path, data: TaskDataConfig) -> int:
    """Write the corpus (one name per line, sorted) to ``path``; returns its size."""
    folder = package_dir("faker", "faker/providers/person", FAKER)
    names = set().union(*(provider_names(f) for f in sorted(folder.glob("*/__init__.py"))))
    dataset = read_task_dataset(data)
    train, val = validation_cut(dataset, data)
    names -= set(dataset.test.inputs) | set(val.inputs)
    alphabet = {c for name in train.inputs for c in name}     # Latin script, as the classifier
    names = {n for n in names if set(n) <= alphabet}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(n + "\n" for n in sorted(names)), encoding="utf-8")
    return len(names)
