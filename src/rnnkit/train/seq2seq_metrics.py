"""Scores of a seq2seq output against one or more references.

Word error rate (WER): the share of sources whose output differs from every reference. Phoneme
(symbol) error rate (PER): the Levenshtein distance (substitutions, insertions, deletions) to
the closest reference, summed over sources and divided by the summed length of those closest
references (the G2P convention of Yao & Zweig 2015 and Rao et al. 2015).

>>> error_rates([["HH", "AH0"]], [[["HH", "AH0"], ["HH", "EH1"]]])
{'wer': 0.0, 'per': 0.0, 'words': 1}
>>> edit_distance("kitten", "sitting")
3
"""

from __future__ import annotations


def edit_distance(a, b) -> int:
    """Levenshtein distance between two sequences (unit costs)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def error_rates(outputs: list[list[str]], references: list[list[list[str]]]) -> dict:
    """WER and PER of ``outputs`` (symbol lists), each against its references (lists)."""
    wrong = edits = length = 0
    for out, refs in zip(outputs, references):
        wrong += all(out != r for r in refs)
        distance, ref = min((edit_distance(out, r), r) for r in refs)
        edits += distance
        length += len(ref)
    n = len(outputs)
    return {"wer": wrong / max(n, 1), "per": edits / max(length, 1), "words": n}
