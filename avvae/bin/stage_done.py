"""Check or write a stage's done marker with its provenance (avvae.fileio.provenance), for the steps/ scripts.

  check: prints `done` when <dir> holds the finished output of this very stage (the script skips it), else `todo`
         after recording the start; stale output (made from other inputs or options) is an error naming what
         changed, or, with --force true, is removed so that the stage makes it again. A finished stage whose
         --output files are not all there as they were (missing, or of another size) is `todo`: it makes them again.
  write: writes the done marker (last, once the stage's output is complete), with the files of its --output.

e.g. python -m avvae.bin.stage_done check dump/train_si --what "the dump" --input conf/feats.yaml \\
       --data-dir data/train_si --output feats.h5
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from avvae.cli import run_main
from avvae.errors import UsageError
from avvae.fileio.provenance import (
    Provenance,
    check_stage,
    data_dir_files,
    file_identity,
    mark_stage_done,
    option_inputs,
    option_words,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("check", "write"))
    parser.add_argument("dir", help="the stage's output folder, which holds its markers")
    parser.add_argument("--what", required=True, help="the output in words, for messages, e.g. 'the dump'")
    parser.add_argument("--name", default="", help="marker name: .done.<name> (default: .done)")
    parser.add_argument("--input", action="append", default=[], help="an input file (repeatable)")
    parser.add_argument("--data-dir", action="append", default=[], help="an input data dir: its tables (repeatable)")
    parser.add_argument(
        "--opts",
        action="append",
        default=[],
        help="pass-through options of the stage, split as a shell splits them (quote a path with spaces), recorded; "
        "the files they name are inputs, the folders they name stand for their model files (write --opts='--x y' "
        "when it starts with -)",
    )
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="a setting, recorded")
    parser.add_argument(
        "--output",
        action="append",
        default=[],
        help="a file or folder of <dir> that the stage makes: the names and sizes of its files are recorded (a big "
        "file that later stages read is identified by this record)",
    )
    parser.add_argument(
        "--remove", action="append", default=[], help="check --force: what to remove when stale (default: <dir>)"
    )
    parser.add_argument(
        "--force",
        choices=("true", "false"),
        default="false",
        help="check: remove stale output and redo it instead of refusing",
    )
    return parser


def current_provenance(args: argparse.Namespace) -> Provenance:
    files = [Path(path) for path in args.input]
    for directory in args.data_dir:
        files += data_dir_files(directory)
    options = {}
    for index, opts in enumerate(args.opts):
        words = option_words(opts)
        files += option_inputs(words)
        options[f"opts{index + 1}" if len(args.opts) > 1 else "opts"] = shlex.join(words)
    for setting in args.option:
        name, separator, value = setting.partition("=")
        if not separator:
            raise UsageError(f"--option {setting!r}: expected NAME=VALUE")
        options[name] = value
    return Provenance({str(path): file_identity(path) for path in files}, options, tuple(args.output))


def main(args: argparse.Namespace) -> None:
    provenance = current_provenance(args)
    if args.action == "write":
        mark_stage_done(args.dir, provenance, args.what, args.name)
        return
    done = check_stage(args.dir, provenance, args.what, args.name, args.force == "true", args.remove)
    print("done" if done else "todo")


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
