"""``rnnkit export RUN``: write a trained run's graphs for ONNX Runtime or ``torch.export``
(see docs/export.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.export.run import FORMATS, QUANTIZE, ExportConfig, export_run

DESCRIPTION = ("Write a trained run as portable graphs: a language model's step (one token and "
               "the state in, logits and the new state out) and sequence (padded batches with "
               "lengths and a state); a classifier's or tagger's sequence; a seq2seq model's "
               "encoder and decoder step. The folder also holds tokenizer.json and "
               "manifest.json (how to call each graph). Each graph is checked against the "
               "model before the folder is written.")


def add_parser(commands) -> None:
    p = commands.add_parser("export", help="write a run as ONNX or torch.export graphs",
                            description=DESCRIPTION)
    p.add_argument("run", metavar="RUN", help="run folder written by rnnkit train")
    p.add_argument("--format", choices=tuple(FORMATS), default="onnx",
                   help="onnx (for ONNX Runtime) or torch-export (.pt2 programs) (onnx)")
    p.add_argument("--out", metavar="DIR", type=Path,
                   help="the folder to write (RUN/export-FORMAT[-int8])")
    p.add_argument("--quantize", choices=QUANTIZE,
                   help="int8: dynamic int8 matrix products for CPU inference (onnx only)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = ExportConfig(format=args.format, out=args.out, quantize=args.quantize,
                          overwrite=args.overwrite)
    folder, manifest = export_run(args.run, config)
    for name, graph in manifest["graphs"].items():
        print(f"{name}: {folder / graph['file']} (max |graph - model| {graph['max_abs_diff']:.1e}"
              f" on random inputs)")
    print(f"wrote {folder} ({manifest['task']}, {manifest['backend']}"
          + (f", {manifest['quantize']}" if manifest["quantize"] else "") + ")")
    return 0
