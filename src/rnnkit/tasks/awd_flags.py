"""``rnnkit train lm``'s flags for the AWD-LSTM regularisers and NT-ASGD (Merity, Keskar &
Socher 2018, "Regularizing and Optimizing LSTM Language Models", arXiv 1708.02182): the model
side is :mod:`rnnkit.nn.awd` (LMConfig's fields), the averaging :mod:`rnnkit.train.averaging`.
All are off unless given."""

from __future__ import annotations

import argparse

from rnnkit.errors import RnnkitError
from rnnkit.tasks.flags import nonnegative_float, positive_int, probability

NONMONO = 5                      # the paper's non-monotone interval (sec. 3)


def add_awd_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("AWD-LSTM regularisers (Merity et al. 2018; training only, off "
                             "by default)")
    g.add_argument("--weight-drop", type=probability, metavar="P",
                   help="DropConnect on the recurrent matrices W_hh (lstm, gru, rnn): one mask "
                        "per forward, the same at every timestep (paper: 0.5)")
    g.add_argument("--embed-dropout", type=probability, metavar="P",
                   help="drop whole words of the embedding matrix, the kept ones scaled by "
                        "1/(1-P) (paper: 0.1)")
    g.add_argument("--locked-dropout", action="store_true",
                   help="--dropout on the embeddings and before the head with one mask per "
                        "sequence, shared over time (variational); between layers it stays "
                        "per element")
    g.add_argument("--ar", type=nonnegative_float, metavar="ALPHA",
                   help="activation regularisation: add ALPHA * mean(dropped h^2) of the last "
                        "layer to the training loss (paper: 2); the logged loss stays the "
                        "cross-entropy, the penalty is logged beside it")
    g.add_argument("--tar", type=nonnegative_float, metavar="BETA",
                   help="temporal activation regularisation: add BETA * mean((h_t - h_t+1)^2) "
                        "(paper: 1)")
    g.add_argument("--asgd", action="store_true",
                   help="NT-ASGD (needs --optimizer sgd): average the weights once the "
                        "validation loss stops improving; evaluation and the saved weights "
                        "use the average")
    g.add_argument("--asgd-nonmono", type=positive_int, metavar="N",
                   help=f"--asgd's trigger: a validation loss worse than the best from more "
                        f"than N evaluations ago (default {NONMONO})")


def asgd_interval(s: dict) -> int:
    """TrainConfig.asgd_nonmono of the settings ``s``: 0 without ``--asgd``."""
    if not s.get("asgd"):
        if "asgd_nonmono" in s:
            raise RnnkitError("--asgd-nonmono sets the trigger of --asgd; give --asgd too")
        return 0
    return s.get("asgd_nonmono", NONMONO)
