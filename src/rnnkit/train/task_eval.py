"""Evaluate a trained classifier or tagger: accuracy, macro-F1, a per-class table, a confusion
matrix PNG, and for tagging the accuracy on words never seen in training.

The examples are the run's own test split (rebuilt from ``config.json``: the same files, the
same fixed split), its validation cut (``part="validation"``: where a setting such as the logit
adjustment below is chosen), or a whole file of the same format. For a classifier, a label in the
evaluation data that the model never saw in training is refused in one line (the model cannot
predict it, so the figure would be meaningless). For a tagger, such tags are rare in real
treebanks (Turkish ``ONOM``); the tokens that carry one are announced and counted as errors.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.data.codec import UNSEEN, Codec, TagCodec
from rnnkit.data.datasets import Split, read_file, warn
from rnnkit.data.padded import pad_batch
from rnnkit.errors import RnnkitError
from rnnkit.train.classification_metrics import classification_report, plot_confusion
from rnnkit.train.run_folder import write_json
from rnnkit.train.task_data import TaskDataConfig, encode_split, read_task_dataset, \
    validation_cut

EVALUATION_FILE = "evaluation.json"
CONFUSION_FILE = "confusion_matrix.png"


def predict_logits(model: nn.Module, inputs: list[Tensor], batch_size: int = 64) -> list[Tensor]:
    """Logits per example ((K,) or (T, K)), computed in length-sorted batches, input order."""
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
    out: list[Tensor | None] = [None] * len(inputs)
    with torch.no_grad():
        for s in range(0, len(order), batch_size):
            idx = order[s: s + batch_size]
            batch = pad_batch([inputs[i] for i in idx], [0] * len(idx))
            logits, _ = model(batch.inputs, None, lengths=batch.lengths)
            for row, i in enumerate(idx):
                out[i] = logits[row, : len(inputs[i])] if logits.dim() == 3 else logits[row]
    return out


def evaluation_split(config: dict, data_file: str | None,
                     part: str = "test") -> tuple[str, Split]:
    """(description, examples): the run's test split or validation cut (``part``), or every
    example of ``data_file``."""
    data = TaskDataConfig(**config["data"])
    if data_file is None and part == "validation":
        held = validation_cut(read_task_dataset(data), data)[1]
        if not len(held):
            raise RnnkitError("the run was trained with --val-fraction 0: it has no validation "
                              "cut to score")
        return f"validation cut of {data.data} ({data.val_fraction:g} of the training part)", \
            held
    if data_file is None:
        return f"test split of {data.data} ({config.get('split', '')})", \
            read_task_dataset(data).test
    kind, split = read_file(data_file, text_column=data.text_column,
                            label_column=data.label_column, encoding=data.encoding)
    if kind != config.get("kind"):
        raise RnnkitError(f"'{data_file}' holds {kind} examples but the run was trained on "
                          f"{config.get('kind')} examples")
    return data_file, split


def training_prior(config: dict, labels: tuple[str, ...]) -> Tensor:
    """(K,) share of each label among the examples the run trained on (its training part less
    its validation cut), in ``labels`` order; a label none of them carries counts once."""
    data = TaskDataConfig(**config["data"])
    counts = Counter(validation_cut(read_task_dataset(data), data)[0].targets)
    n = torch.tensor([max(counts[y], 1) for y in labels], dtype=torch.float64)
    return (n / n.sum()).float()


def adjust_logits(logits: list[Tensor], prior: Tensor, tau: float) -> list[Tensor]:
    """Post-hoc logit adjustment (Menon et al. 2021, "Long-tail learning via logit adjustment",
    ICLR, eq. 3): predict ``argmax_y f_y(x) - tau log p(y)`` with ``p`` the training label
    prior. Cross-entropy on imbalanced classes learns ``f_y(x) ~ log p(y | x)``, which favours
    frequent labels; subtracting ``log p(y)`` (tau = 1) leaves ``log p(x | y)``, the scores of
    a classifier that minimises the balanced error, so rare labels are recalled more, which
    is what macro-F1 counts. Each ``(K,)`` or ``(T, K)`` logit row is shifted the same way:

    >>> adjust_logits([torch.tensor([2.0, 1.0])], torch.tensor([0.8, 0.2]), 1.0)[0]
    tensor([2.2231, 2.6094])
    """
    shift = tau * torch.log(prior)                                              # (K,)
    return [x.float() - shift for x in logits]


def ensemble_logits(members: list[tuple[nn.Module, Codec]], split: Split,
                    where: str) -> list[Tensor]:
    """Log of the members' mean class probabilities per example, ``log (1/M) sum_m
    softmax(z_m)`` ((K,) or (T, K)): an ensemble of independently trained networks, which
    errs less than its members when their errors differ (Hansen & Salamon 1990; Lakshminarayanan
    et al. 2017 average probabilities the same way). Each member reads the examples through its
    own codec; all must share the label set."""
    labels = members[0][1].labels.labels
    total: list[Tensor] | None = None
    for model, codec in members:
        if codec.labels.labels != labels:
            raise RnnkitError("the ensemble's runs have different label sets; they must be "
                              "trained on the same data")
        inputs, _ = encode_split(codec, split, what=f"'{where}'")
        probs = [torch.softmax(x.float(), -1) for x in predict_logits(model, inputs)]
        if total is not None and any(a.shape != b.shape for a, b in zip(total, probs)):
            raise RnnkitError("the ensemble's runs cut the examples to different lengths "
                              "(max_len); they must be trained with the same settings")
        total = probs if total is None else [a + b for a, b in zip(total, probs)]
    return [torch.log(t / len(members)) for t in total]


def evaluate_task(run_dir: str | Path, model: nn.Module, codec: Codec, config: dict,
                  data_file: str | None = None,
                  others: list[tuple[nn.Module, Codec]] = (), *, part: str = "test",
                  logit_adjust: float = 0.0) -> dict:
    """Scores of a trained ``model`` (in eval mode) on its run's test split (or its validation
    cut, ``part="validation"``, or ``data_file``); writes evaluation.json and the
    confusion-matrix PNG into the run folder and returns the report. With ``others`` (more
    trained runs on the same data) the scores are those of the ensemble
    (:func:`ensemble_logits`), written to evaluation_ensemble.json and
    confusion_matrix_ensemble.png; the validation cut's go to evaluation_validation.json.
    ``logit_adjust`` (a classifier's): the tau of :func:`adjust_logits`, the prior that of the
    run's training examples."""
    run_dir = Path(run_dir)
    where, split = evaluation_split(config, data_file, part)
    inputs, targets = encode_split(codec, split, what=f"'{where}'")
    logits = ensemble_logits([(model, codec), *others], split, where) if others else \
        predict_logits(model, inputs)
    labels = codec.labels.labels
    if logit_adjust:
        if isinstance(codec, TagCodec):
            raise RnnkitError("--logit-adjust applies to classifier runs, not taggers")
        logits = adjust_logits(logits, training_prior(config, labels), logit_adjust)
    if isinstance(codec, TagCodec):
        report = _tag_report(codec, split, logits, targets, labels)
    else:
        predicted = np.array([int(x.argmax()) for x in logits])
        report = classification_report(np.array(targets), predicted, labels)
    report = {"data": where, "task": config["task"], **report}
    if others:
        report["ensemble"] = 1 + len(others)
    if logit_adjust:
        report["logit_adjust"] = logit_adjust
    suffix = evaluation_suffix(bool(others), part)
    write_json(run_dir / EVALUATION_FILE.replace(".json", f"{suffix}.json"), report)
    plot_confusion(report, labels, run_dir / CONFUSION_FILE.replace(".png", f"{suffix}.png"),
                   title=where[:60])
    return report


def evaluation_suffix(ensemble: bool, part: str) -> str:
    """What the evaluation files' names carry: ``_ensemble``, then ``_validation``."""
    return ("_ensemble" if ensemble else "") + ("_validation" if part == "validation" else "")


def _tag_report(codec: TagCodec, split: Split, logits: list[Tensor], targets: list[Tensor],
                labels: tuple[str, ...]) -> dict:
    truth = torch.cat(targets).numpy()
    predicted = torch.cat([x.argmax(-1) for x in logits]).numpy()
    words = [w.lower() for sentence in split.inputs
             for w in list(sentence)[: codec.max_len]]
    unseen_word = np.array([w not in codec.words for w in words])
    unseen_tag = truth == UNSEEN
    if unseen_tag.any():
        warn(f"{int(unseen_tag.sum())} tokens carry tags the model never saw in training; they "
             "count as errors")
    correct = (predicted == truth) & ~unseen_tag
    known = ~unseen_tag
    report = classification_report(truth[known], predicted[known], labels)
    report["accuracy"] = float(correct.mean())
    report["count"] = int(len(truth))
    report["unseen_words"] = int(unseen_word.sum())
    report["unseen_word_accuracy"] = float(correct[unseen_word].mean()) \
        if unseen_word.any() else None
    return report
