"""``rnnkit``: train, generate from and evaluate recurrent models.

Every problem a user can cause ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from rnnkit.cli import (bench_cmd, datasets_cmd, diagnose_cmd, evaluate_cmd, experiment_cmd,
                        generate_cmd, predict_cmd, train_cmd)
from rnnkit.errors import RnnkitError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit", description="Recurrent sequence models on PyTorch.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (train_cmd, generate_cmd, evaluate_cmd, predict_cmd, datasets_cmd, diagnose_cmd,
                   experiment_cmd, bench_cmd):
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except RnnkitError as e:
        print(f"rnnkit: error: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("rnnkit: error: out of memory; try a smaller --batch-size, --hidden or --seq-len",
              file=sys.stderr)
    except OSError as e:
        where = f" ({e.filename})" if e.filename else ""
        print(f"rnnkit: error: {e.strerror or e}{where}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
