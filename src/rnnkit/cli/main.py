"""``rnnkit``: train, predict with, generate from, evaluate and diagnose recurrent models.

Every problem a user can cause ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import sys

from rnnkit.cli import (bench_cmd, datasets_cmd, experiment_cmd, export_cmd, serve_cmd,
                        train_cmd, use_cmds)
from rnnkit.cli.parser import Parser, parse
from rnnkit.errors import Interrupted, RnnkitError


def build_parser(skip: str | None = None) -> Parser:
    """Every command's parser; ``skip`` leaves one run command out (``use_cmds`` adds it built
    for the task of the run it names)."""
    parser = Parser(prog="rnnkit", description="Recurrent sequence models on PyTorch.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train_cmd.add_parser(commands)
    for name in use_cmds.COMMANDS:
        if name != skip:
            use_cmds.add_command(commands, name)
    for module in (export_cmd, serve_cmd, datasets_cmd, experiment_cmd, bench_cmd):
        module.add_parser(commands)
    return parser


def _parser(argv: list[str]) -> tuple[Parser, list[str]]:
    if argv and argv[0] == "train":
        return build_parser(), train_cmd.normalise(argv)
    wants_help = any(a in ("-h", "--help") for a in argv[1:])
    if argv and argv[0] in use_cmds.COMMANDS and len(argv) > 1 and not wants_help:
        return use_cmds.parser_for(argv), argv
    return build_parser(), argv


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "train":
            launched = train_cmd.launch(argv)
            if launched is not None:
                return launched
        parser, argv = _parser(argv)
        args = parse(parser, argv)
        return args.handler(args) or 0
    except Interrupted as e:
        print(f"rnnkit: {e}", file=sys.stderr)
        return e.exit_code
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
