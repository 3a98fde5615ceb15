import json

import pytest
import torch

from rnnkit.data.tokenizer import UNK, CharTokenizer
from rnnkit.errors import RnnkitError

TURKISH = "Işık ılık süt içti; İstanbul'da ğ ş ç ö ü."


def test_vocab_is_sorted_chars_with_unk_at_zero():
    tok = CharTokenizer.from_text("bca b")
    assert tok.chars == (" ", "a", "b", "c")
    assert tok.vocab_size == 5
    assert tok.decode([0]) == UNK


def test_turkish_round_trip():
    tok = CharTokenizer.from_text(TURKISH)
    ids = tok.encode(TURKISH)
    assert ids.dtype == torch.long and ids.shape == (len(TURKISH),)
    assert int(ids.min()) >= 1
    assert tok.decode(ids) == TURKISH
    assert tok.decode(ids.tolist()) == TURKISH


def test_unseen_chars_map_to_unk_and_are_reported_in_order():
    tok = CharTokenizer.from_text("abc")
    assert tok.encode("axbyx").tolist() == [1, 0, 2, 0, 0]
    assert tok.unknown_chars("axbyxğ") == ["x", "y", "ğ"]
    assert tok.unknown_chars("cab") == []


def test_encode_matches_dict_lookup_on_mixed_scripts():
    text = TURKISH + "日本語 😀 \U0010ffff abc"
    tok = CharTokenizer.from_text(text[::2])
    table = {c: i + 1 for i, c in enumerate(tok.chars)}
    assert tok.encode(text).tolist() == [table.get(c, 0) for c in text]


def test_empty_vocabulary_maps_everything_to_unk():
    tok = CharTokenizer.from_text("")
    assert tok.encode("ab").tolist() == [0, 0]


def test_decode_rejects_ids_outside_vocab():
    tok = CharTokenizer.from_text("ab")
    with pytest.raises(RnnkitError, match="token id 3 is outside the vocabulary"):
        tok.decode([1, 3])


def test_save_load_round_trip_is_equal_and_readable(tmp_path):
    tok = CharTokenizer.from_text(TURKISH)
    path = tok.save(tmp_path / "tokenizer.json")
    assert "ı" in path.read_text(encoding="utf-8")  # stored readably, not as \u escapes
    assert json.loads(path.read_text(encoding="utf-8"))["unk"] == UNK
    assert CharTokenizer.load(path) == tok
    assert CharTokenizer.from_dict(tok.to_dict()) == tok


def test_tokenizer_is_immutable():
    tok = CharTokenizer.from_text("ab")
    with pytest.raises(AttributeError):
        tok.chars = ("z",)


def test_load_missing_file(tmp_path):
    with pytest.raises(RnnkitError, match="does not exist"):
        CharTokenizer.load(tmp_path / "none.json")


def test_load_corrupt_json(tmp_path):
    path = tmp_path / "tok.json"
    path.write_text('{"format": "rnnkit.char_tok')
    with pytest.raises(RnnkitError, match="is corrupt") as e:
        CharTokenizer.load(path)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"format": "other"},
        {"format": "rnnkit.char_tokenizer", "version": 1, "unk": UNK, "chars": "abc"},
        {"format": "rnnkit.char_tokenizer", "version": 1, "unk": UNK, "chars": ["ab"]},
        {"format": "rnnkit.char_tokenizer", "version": 1, "unk": UNK, "chars": ["a", "a"]},
        {"format": "rnnkit.char_tokenizer", "version": 9, "unk": UNK, "chars": ["a"]},
    ],
)
def test_load_wrong_shape(tmp_path, payload):
    path = tmp_path / "tok.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(RnnkitError, match="tok.json"):
        CharTokenizer.load(path)


def test_piece_streams_what_decode_gives_and_refuses_foreign_ids():
    tok = CharTokenizer.from_text("elma kırmızıdır")
    ids = range(tok.vocab_size)
    assert "".join(tok.piece(i) for i in ids) == tok.decode(ids)
    with pytest.raises(RnnkitError, match="outside the vocabulary"):
        tok.piece(tok.vocab_size)
