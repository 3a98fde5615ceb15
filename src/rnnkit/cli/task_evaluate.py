"""``rnnkit evaluate RUN`` for a classifier or tagger: accuracy, macro-F1, the per-class table,
and where the confusion matrix PNG went."""

from __future__ import annotations

import argparse

from rnnkit.train.classification_metrics import format_report
from rnnkit.train.task_eval import CONFUSION_FILE, EVALUATION_FILE, evaluate_task


def run_task_evaluation(args: argparse.Namespace) -> int:
    report = evaluate_task(args.run, args.data)
    unit = "tokens" if report["task"] == "tag" else "examples"
    print(f"{report['data']}: accuracy {report['accuracy']:.4f}, macro-F1 "
          f"{report['macro_f1']:.4f} ({report['count']:,} {unit})")
    if report.get("unseen_words") is not None:
        acc = report["unseen_word_accuracy"]
        print(f"words unseen in training: {report['unseen_words']:,}, accuracy "
              f"{'n/a' if acc is None else f'{acc:.4f}'}")
    print(format_report(report))
    print(f"wrote {args.run}/{EVALUATION_FILE} and {args.run}/{CONFUSION_FILE}")
    return 0
