"""Fixed splits for data sets that ship without one.

``stratified_indices`` keeps each label's share the same on both sides: the examples of each
label are shuffled with a generator seeded by ``seed`` and the first ``round(n * fraction)``
(at least one when a label has two or more examples) go to the held-out side. The same data,
fraction and seed always give the same split, on any machine (``random.Random`` is specified
by Python, unlike NumPy's legacy global state).

>>> stratified_indices(["a", "a", "a", "b", "b"], 0.4, seed=0)
([1, 2, 4], [0, 3])
"""

from __future__ import annotations

import random
from collections import defaultdict

from rnnkit.errors import RnnkitError


def stratified_indices(labels, fraction: float, *, seed: int) -> tuple[list[int], list[int]]:
    """(kept, held_out) example indices, each sorted; ``fraction`` of every label held out."""
    if not 0 < fraction < 1:
        raise RnnkitError(f"held-out fraction must be in (0, 1), got {fraction}")
    by_label: dict = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    rng = random.Random(seed)
    held: list[int] = []
    for label in sorted(by_label, key=str):
        members = by_label[label]
        rng.shuffle(members)
        n = round(len(members) * fraction)
        if len(members) >= 2:
            n = min(max(n, 1), len(members) - 1)
        else:
            n = 0
        held.extend(members[:n])
    held_set = set(held)
    kept = [i for i in range(len(labels)) if i not in held_set]
    return kept, sorted(held)


def every_nth(count: int, n: int = 10, remainder: int = 9) -> tuple[list[int], list[int]]:
    """(kept, held_out): example i is held out when ``i % n == remainder`` (a split that follows
    the corpus order, so every genre or document contributes to both sides)."""
    held = [i for i in range(count) if i % n == remainder]
    return [i for i in range(count) if i % n != remainder], held
