"""Real data sets: readers for their file formats, built-in names, fixed splits.

    load_dataset("builtin:jvowels")          # official 270/370 split, from the sktime package
    load_dataset("reviews.csv", text_column="review", label_column="stars")
"""

from rnnkit.data.datasets.announce import warn
from rnnkit.data.datasets.brown import UNIVERSAL, read_brown, universal_tag
from rnnkit.data.datasets.conllu import read_conllu
from rnnkit.data.datasets.csv_format import read_labelled_csv
from rnnkit.data.datasets.dataset import KINDS, Dataset, Split
from rnnkit.data.datasets.faker_names import names_by_locale
from rnnkit.data.datasets.packages import BROWN_ENV, BROWN_INSTALL, brown_dir, installed
from rnnkit.data.datasets.registry import BUILTINS, Builtin, load_dataset, read_file
from rnnkit.data.datasets.splits import every_nth, stratified_indices
from rnnkit.data.datasets.ts_format import read_ts

__all__ = [
    "BROWN_ENV",
    "BROWN_INSTALL",
    "BUILTINS",
    "Builtin",
    "Dataset",
    "KINDS",
    "Split",
    "UNIVERSAL",
    "brown_dir",
    "every_nth",
    "installed",
    "load_dataset",
    "names_by_locale",
    "read_brown",
    "read_conllu",
    "read_file",
    "read_labelled_csv",
    "read_ts",
    "stratified_indices",
    "universal_tag",
    "warn",
]
