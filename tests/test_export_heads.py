"""Every head's graphs (classifier, tagger, seq2seq encoder and decoder step) through ONNX
Runtime and torch.export against the eager model, each row of a padded batch against the model
run on that row alone; a greedy seq2seq decode through the ONNX graphs. One cell per head by
default; every cell with every head is the slow matrix."""

import warnings

import numpy as np
import pytest
import torch

from rnnkit.export import onnx_graphs, torch_graphs
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.portable import (classifier_graphs, lm_graphs, seq2seq_graphs,
                                    tagger_graphs)
from rnnkit.models.lm import LanguageModel, LMConfig
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig, start_symbols
from rnnkit.models.tagger import Tagger, TaggerConfig

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

CELLS = ("lstm", "gru", "rnn", "rnn_relu", "mingru", "minlstm")
MINIMAL = ("mingru", "minlstm")


def build(head: str, cell: str):
    torch.manual_seed(0)
    both = cell not in MINIMAL
    if head == "lm":
        return LanguageModel(LMConfig(vocab_size=11, cell=cell, embed_size=6, hidden_size=7))
    if head == "classify":
        return SequenceClassifier(ClassifierConfig(num_classes=3, vocab_size=13, input_size=6,
                                                   hidden_size=7, cell=cell, bidirectional=both,
                                                   pooling="attention", num_layers=2))
    if head == "classify-vectors":
        return SequenceClassifier(ClassifierConfig(num_classes=3, input_size=4, hidden_size=7,
                                                   cell=cell, bidirectional=both))
    if head == "tag":
        return Tagger(TaggerConfig(num_tags=4, vocab_size=13, char_vocab_size=9, word_embed=6,
                                   char_embed=3, char_hidden=4, hidden_size=7, cell=cell,
                                   bidirectional=both))
    encoder = cell if both else "gru"                    # minimal cells decode only here
    return Seq2Seq(Seq2SeqConfig(source_vocab=12, target_vocab=10, cell=encoder, decoder_cell=cell,
                                 embed_size=6, hidden_size=7, decoder_size=8,
                                 attention="additive", attention_size=5))


GRAPHS = {"lm": lm_graphs, "classify": classifier_graphs, "classify-vectors": classifier_graphs,
          "tag": tagger_graphs, "seq2seq": seq2seq_graphs}


def written(model, head, tmp_path, backend):
    """{graph name: (graph, call)} of ``model`` written with ``backend`` and read back."""
    out = {}
    g = torch.Generator().manual_seed(1)
    for graph in GRAPHS[head](model.eval()):
        path = tmp_path / f"{graph.name}{backend.SUFFIX}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            backend.write(graph, path, graph.example(g))
        out[graph.name] = (graph, backend.runner(path, graph))
    return out


def padded_rows(model, head, g, B, T):
    """Inputs (B, T, ...) right-padded, lengths, and row b's eager output at its length."""
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    lengths[0] = T
    if head == "tag":
        inputs = torch.randint(1, 9, (B, T, 4), generator=g)
        inputs[:, :, 3] = 0                                  # words of 1-3 characters
    elif head == "classify-vectors":
        inputs = torch.randn(B, T, 4, generator=g)
    else:
        inputs = torch.randint(1, 11, (B, T), generator=g)
    for b in range(B):
        inputs[b, int(lengths[b]):] = 0
    return inputs, lengths


def check_sequence(model, head, call):
    g = torch.Generator().manual_seed(2)
    for B, T in ((1, 1), (4, 7)):
        inputs, lengths = padded_rows(model, head, g, B, T)
        got = call((inputs, lengths, *zero_state(model, B)))[0]
        for b in range(B):
            n = int(lengths[b])
            with torch.no_grad():
                want = model(inputs[b:b + 1, :n], lengths=lengths[b:b + 1])[0][0].numpy()
            row = got[b] if head.startswith("classify") else got[b, :n]
            assert np.abs(row - want).max() <= 1e-5


def zero_state(model, B):
    rnn = model.rnn
    rows = rnn.config.num_layers * (2 if getattr(rnn.config, "bidirectional", False) else 1)
    parts = 2 if rnn.config.cell == "lstm" else 1
    return tuple(torch.zeros(rows, B, rnn.config.hidden_size) for _ in range(parts))


def check_seq2seq(model, graphs):
    enc_graph, encode = graphs["encoder"]
    _, step = graphs["step"]
    g = torch.Generator().manual_seed(3)
    source = torch.randint(3, 12, (3, 6), generator=g)
    source[1, 4:] = 0
    source[2, 1:] = 0
    memory, keys, mask, *state = (torch.from_numpy(a) for a in encode((source,)))
    with torch.no_grad():
        for b in range(3):
            n = int((source[b] != 0).sum())
            enc = model.encode(source[b:b + 1, :n])
            assert (memory[b, :n] - enc.memory[0]).abs().max() <= 1e-5
            assert not mask[b, n:].any()
        enc = model.encode(source)
        y = start_symbols(3)
        eager_state, ours = enc.state, []
        for _ in range(6):                              # greedy decode, both ways
            logits, eager_state, _ = model.step(y, eager_state, enc)
            out_logits, _, *state = step((y, memory, keys, mask, *state))
            assert np.abs(out_logits - logits.numpy()).max() <= 1e-5
            state = [torch.from_numpy(s) for s in state]
            ours.append(torch.from_numpy(out_logits).argmax(-1))
            y = logits.argmax(-1)
            assert torch.equal(ours[-1], y)


def check_head(head, cell, tmp_path, backend):
    model = build(head, cell)
    graphs = written(model, head, tmp_path, backend)
    if head == "seq2seq":
        check_seq2seq(model, graphs)
    else:
        check_sequence(model, head, graphs["sequence"][1])


DEFAULT = [("classify", "gru"), pytest.param("classify-vectors", "minlstm",
                                             marks=pytest.mark.slow),
           ("tag", "lstm"), ("seq2seq", "rnn_relu")]


@pytest.mark.parametrize("head,cell", DEFAULT)
def test_onnx_runtime_runs_each_head_like_eager(head, cell, tmp_path):
    check_head(head, cell, tmp_path, onnx_graphs)


@pytest.mark.parametrize("head,cell", [pytest.param("tag", "mingru", marks=pytest.mark.slow),
                                       ("seq2seq", "gru")])
def test_the_exported_programs_run_each_head_like_eager(head, cell, tmp_path):
    check_head(head, cell, tmp_path, torch_graphs)


@pytest.mark.slow
@pytest.mark.parametrize("backend", [onnx_graphs, torch_graphs], ids=["onnx", "torch"])
@pytest.mark.parametrize("head", list(GRAPHS))
@pytest.mark.parametrize("cell", CELLS)
def test_every_cell_with_every_head(cell, head, backend, tmp_path):
    if head == "lm":
        model = build("lm", cell)
        graphs = written(model, "lm", tmp_path, backend)
        check_sequence(model, "lm", graphs["sequence"][1])
        return
    check_head(head, cell, tmp_path, backend)
